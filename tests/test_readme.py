"README.md is generated from nbs/index.ipynb and must stay in step with it."
import re
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

def python_blocks(text:str) -> list[str]:
    "The README's ```python blocks, in order."
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)

def test_readme_python_blocks_run_as_written(tmp_path):
    """Every Python block of the README runs as a reader pastes it: in order, in one fresh Python process, from an empty
    folder, with nothing predefined and no IN_TEST; the blocks' own small arguments keep this to about a minute or two."""
    import os, subprocess, sys, time
    blocks = python_blocks((ROOT/"README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 3, blocks
    for b in blocks: assert "IN_TEST" not in b, f"a README block uses IN_TEST, which a reader does not have:\n{b}"
    timer = "import sys, time\n_t, _c = time.time(), time.process_time()\n"  # CPU seconds: what it costs alone, on a busy host too
    script = timer + "".join(f"\n# --- block {i}\n{b}\nprint(f'block {i}: {{time.time() - _t:.0f}} s ({{time.process_time() - _c:.0f}} "
                             f"CPU s)', file=sys.stderr, flush=True)\n_t, _c = time.time(), time.process_time()\n"
                             for i, b in enumerate(blocks, 1))
    (tmp_path/"readme_blocks.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}
    env.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.time()
    r = subprocess.run([sys.executable, "readme_blocks.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    times = [l for l in r.stderr.splitlines() if re.match(r"block \d+: \d+ s \(\d+ CPU s\)$", l)]
    print(f"README blocks: {', '.join(times)}; {time.time() - t0:.0f} s in all", file=sys.stderr)
    assert r.returncode == 0, f"a README block fails as written (after {times}):\n{r.stderr[-4000:]}"
    assert len(times) == len(blocks), times
