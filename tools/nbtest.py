"""`nbdev_test` that also keeps what it ran: `python tools/nbtest.py [nbdev_test's options]` (the same options, the same run).

Each notebook that passes is written, outputs and figures included, to `runs/executed/<name>.ipynb` with the hash of
the notebook and of the library it ran against. The docs build (`tools/docs.py`) shows these outputs, so `make test`
executes every notebook once and `make docs` after it executes none; a notebook or library changed since is run again.
"""
import datetime, hashlib, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = Path(os.environ.get("SAU_NB_EXECUTED") or ROOT/"runs"/"executed")  # runs/ is git-ignored; the variable: for tests
KEY = "sau_nb_executed"            # the notebook metadata entry that records the run

def sha(data:bytes) -> str: return hashlib.sha256(data).hexdigest()[:16]

def lib_hash(lib:Path=ROOT/"sau_nb") -> str:
    "One hash of the library's Python files: the code every notebook's outputs depend on."
    return sha(b"".join(p.name.encode() + p.read_bytes() for p in sorted(lib.glob("*.py"))))

def record(fn:Path, seconds:float) -> dict:
    "What `runs/executed/` says about one run: the hashes it is valid for, when, how long, on what."
    return dict(notebook=sha(Path(fn).read_bytes()), library=lib_hash(), seconds=round(seconds, 1),
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                machine=f"{platform.machine()}, {os.cpu_count()} CPUs", settings="IN_TEST=1 (the small settings)")

def fresh(fn:Path, folder:Path=EXECUTED):
    "The executed copy of notebook `fn` if it was run from this very notebook and library, else None."
    p = folder/Path(fn).name
    if not p.is_file(): return None
    nb = json.loads(p.read_text(encoding="utf-8"))
    rec = nb.get("metadata", {}).get(KEY, {})
    ok = rec.get("notebook") == sha(Path(fn).read_bytes()) and rec.get("library") == lib_hash()
    return nb if ok else None

def save(fn:Path, nb, seconds:float, folder:Path=EXECUTED) -> Path:
    "Write the executed notebook `nb` (execnb's, as `test_nb` ran it) with its record."
    from execnb.nbio import nb2dict
    d = nb2dict(nb)
    d.setdefault("metadata", {})[KEY] = record(fn, seconds)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder/Path(fn).name
    tmp = out.with_suffix(".tmp-ipynb")
    tmp.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8"); tmp.replace(out)  # never a half-written copy
    return out

def test_nb(fn, skip_flags=None, force_flags=None, do_print=False, showerr=True, basepath=None):
    "nbdev's `test_nb` (nbdev 2.4.14, same steps), and the executed notebook saved when every cell passed."
    from fastcore.basics import str2bool
    from fastcore.foundation import L
    from fastcore.xtras import working_directory
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor, nb_lang
    from nbdev.frontmatter import FrontmatterProc
    if basepath: sys.path.insert(0, str(basepath))
    os.environ["IN_TEST"] = "1"
    flags = set(L(skip_flags)) - set(L(force_flags))
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    fm = getattr(nb, "frontmatter_", {})
    if str2bool(fm.get("skip_exec", False)) or nb_lang(nb) != "python": return True, 0

    def _no_eval(cell):
        if cell.cell_type != "code": return True
        if "nbdev_export" + "(" in cell.source: return True
        direc = getattr(cell, "directives_", {}) or {}
        if direc.get("eval:", [""])[0].lower() == "false": return True
        return flags & direc.keys()

    start = time.time()
    k = CaptureShell(fn)
    if do_print: print(f"Starting {fn}")
    try:
        with working_directory(Path(fn).parent):
            k.run_all(nb, exc_stop=True, preproc=_no_eval)
            res = True
    except Exception:
        if showerr: sys.stderr.write(k.prettytb(fname=fn) + "\n")
        res = False
    t = time.time() - start
    if res:
        try: save(fn, nb, t)
        except Exception as e: sys.stderr.write(f"{fn}: passed, but its executed copy was not saved: {e!r}\n")
    if do_print: print(f"- Completed {fn}")
    return res, t

# Seconds each notebook took under test in one clean-clone `make test` on this project's 2-core CPU, alone (ci27, 2026-12-07; those
# of 10 s or more): only an order. A notebook's own record in runs/executed/ wins; one not listed counts as quick.
TYPICAL = {"04a_defend": 135, "08a_demo": 126, "04_unlearn": 124, "08_cli": 94, "index": 74, "03_detect": 58, "01_backdoors": 51,
           "13_robustness": 45, "04a_blind_verdict": 41, "07_stable_diffusion": 34, "01a_zoo": 28, "06_evaluate": 24,
           "04a_candidates_from_log": 24, "04a_blind_scan": 20, "09_bad_inputs": 18, "05_baselines": 12, "02_attention": 11, "00_world": 10}

def expected_seconds(fn:Path, folder:Path|None=None) -> float:
    "How long notebook `fn` is expected to take: its last recorded run in `folder` (any version), else `TYPICAL`, else 0."
    p = Path(folder or EXECUTED)/Path(fn).name
    try: return float(json.loads(p.read_text(encoding="utf-8"))["metadata"][KEY]["seconds"])
    except (OSError, ValueError, KeyError, TypeError): return float(TYPICAL.get(Path(fn).stem, 0))

def longest_first(parallel):
    "`parallel` that starts the longest notebooks first (so the last to start is a short one) and answers in the given order."
    def run(f, items, **kwargs):
        order = sorted(range(len(items)), key=lambda i: -expected_seconds(items[i]))
        res = list(parallel(f, [items[i] for i in order], **kwargs))
        out = [None] * len(items)
        for j, i in enumerate(order): out[i] = res[j]
        return out
    return run

if __name__ == "__main__":
    import nbdev.test
    sys.path.insert(0, str(Path(__file__).parent))
    import nbtest  # this file as a module: worker processes find `nbtest.test_nb` by name (not `__main__`'s)
    nbdev.test.test_nb = nbtest.test_nb  # nbdev_test looks `test_nb` up in its module when it runs
    nbdev.test.parallel = longest_first(nbdev.test.parallel)  # two workers: the 08_cli run no longer starts last
    nbdev.test.nbdev_test()  # called at the top level of the script, so that fastcore's call_parse reads the options
