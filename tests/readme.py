"""Render README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which this project does not require).

Markdown cells are copied; code cells that are not hidden become ```python blocks; outputs are left out.
Run `python tests/readme.py` (or `make readme`) to rewrite README.md; tests/test_readme.py checks it is in step."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n"

def _hidden(src:str) -> bool:
    return any(re.match(r"#\|\s*(hide|export|exporti|exec_doc|eval:\s*false)\b", l.strip()) for l in src.splitlines()[:3])

def render_readme(nb_path=ROOT/"nbs"/"index.ipynb") -> str:
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    parts = []
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown":
            parts.append(re.sub(r"\]\(images/", "](nbs/images/", src))
        elif c["cell_type"] == "code" and not _hidden(src):
            parts.append("```python\n" + src + "\n```")
    return HEADER + "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    (ROOT/"README.md").write_text(render_readme(), encoding="utf-8")
    print("wrote README.md", file=sys.stderr)
