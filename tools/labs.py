"""`make labs`: write the student copies of the chapters into labs/ (nbgrader's ClearSolutions blanks each solution region).
`python tools/labs.py --check` writes nothing and fails if a committed copy is missing or out of date."""
import argparse, sys
from pathlib import Path
from sau_nb.labs import make_labs

ROOT = Path(__file__).resolve().parents[1]

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="only check that labs/ is up to date with nbs/")
    args = ap.parse_args(argv)
    stale = make_labs(ROOT, check=args.check)
    names = [str(f.relative_to(ROOT)) for f in stale]
    if args.check and stale:
        sys.exit("labs/ is out of date with nbs/ (run `make labs` and commit the result):\n  " + "\n  ".join(names))
    print(("up to date" if args.check else f"wrote {len(names)} file(s)") + (": " + ", ".join(names) if names else ""))

if __name__ == "__main__": main()
