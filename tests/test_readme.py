"README.md is generated from nbs/index.ipynb and must stay in step with it."
from pathlib import Path
from readme import ROOT, render_readme

def test_readme_in_step_with_index():
    assert (ROOT/"README.md").read_text(encoding="utf-8") == render_readme(), \
        "README.md is out of date: run `make readme` (python tests/readme.py) and commit it."

def test_readme_images_exist():
    import re
    for img in re.findall(r"\]\((nbs/images/[^)]+)\)", render_readme()):
        assert (ROOT/img).exists(), f"README shows {img}, which does not exist"

def test_readme_quickstart_commands_are_make_targets():
    text = render_readme(); mk = (ROOT/"Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in text and f"\n{target}:" in mk
