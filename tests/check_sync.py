"""Fail if `nbdev_export` or `nbdev_clean` would change anything: the notebooks are the source of truth, and the
exported modules and the cleaned notebooks must be committed as they are generated."""
import hashlib, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def snapshot():
    files = sorted([*ROOT.glob("nbs/**/*.ipynb"), *ROOT.glob("sau_nb/**/*.py")])
    return {str(f.relative_to(ROOT)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if ".ipynb_checkpoints" not in str(f)}

def main():
    before = snapshot()
    for cmd in ("nbdev_export", "nbdev_clean"):
        subprocess.run([str(BIN/cmd)], cwd=ROOT, check=True)
    after = snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        print("nbdev_export/nbdev_clean changed these files (they have now been regenerated; review and commit them):",
              *changed, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"export and clean: {len(after)} files unchanged")

if __name__ == "__main__": main()
