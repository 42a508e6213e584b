"""The lent GPU machine's recipe (bench/device/run.sh): its dry run on this CPU, its size budget, its wheel list.

The dry run installs .whl/'s wheels into a temporary folder when they are there (`bash bench/device/run.sh fetch` puts them
there; nothing is downloaded here) and runs every row of bench/gpu_check.py at tiny sizes; without wheels it runs the rest.
"""
import json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
WHEELS = sorted((ROOT / ".whl").glob("*.whl"))


def run(*args, timeout=600):
    return subprocess.run(["bash", "bench/device/run.sh", *args], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout)


def test_dry_run_rehearses_every_row(tmp_path):
    "Rows in order, each written as it ends: the T4 rows refused on a CPU (their error recorded), the rest measured."
    r = run("--dry-run", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ("installed %d wheels" % len(WHEELS) if WHEELS else "no wheels in .whl/") in r.stdout
    res = json.loads((tmp_path / "gpu_check.json").read_text())
    assert res["mode"].startswith("dry-run") and (tmp_path / "gpu_check.md").read_text().startswith("# gpu_check")
    assert "ROW " in (tmp_path / "gpu_check.log").read_text()  # gpu_check.sh's log, printed as the rows ended
    rows = {x["row"]: x for x in res["rows"]}
    assert list(rows) == ["adamw8bit", "t4 lora", "t4 attn2_kv", "t4 unet", "matmul", "unlimited lora", "unlimited attn2_kv",
                          "unlimited unet", "scan 128px", "scan 64px", "demo"], list(rows)
    ao = rows["adamw8bit"]
    if res["versions"]["torchao"] != "not installed":  # the wheels were installed: torchao's 8-bit AdamW took its steps
        assert ao["status"] == "ran" and ao["optimizer_class"] == "torchao.optim.adam.AdamW8bit" and ao["state_type"] == "OptimState8bit", ao
    else: assert "bitsandbytes" in ao["status"] or ao["status"] == "ran", ao
    for p in ("lora", "attn2_kv", "unet"):
        assert "CUDA only" in rows[f"t4 {p}"]["status"], rows[f"t4 {p}"]  # the error path: recorded, and the next row ran
        u = rows[f"unlimited {p}"]
        assert u["status"] == "ran" and u["steps_per_s"] > 0 and u["flops_per_step"] > 0 and 0 < u["share_of_matmul"], u
    assert rows["matmul"]["tflops"] > 0
    for px in (128, 64):
        s = rows[f"scan {px}px"]
        assert s["status"] == "ran" and s["tokens"] > 0 and s["tokens_per_s"] > 0 and s["flops_per_token"] > 0, s
    assert rows["demo"]["status"] == "ran" and "parsed only" in rows["demo"]["note"]
    assert [x["at_s"] for x in res["rows"]] == sorted(x["at_s"] for x in res["rows"])


def test_budget_fits_and_counts_the_wheels():
    "The tree (and the wheels, when fetched) under the device's 64 MiB, as the tool counts them."
    r = run("budget", timeout=120)
    assert r.returncode == 0, r.stderr
    tree = int(re.search(r"tree .*\((\d+) bytes\)", r.stdout).group(1))
    whl = int(re.search(r"wheels in .*\((\d+) bytes\)", r.stdout).group(1))
    assert whl == sum(w.stat().st_size for w in WHEELS) and 10e6 < tree < 64 * 2 ** 20, r.stdout
    assert f"({tree + whl} bytes) of 64.00 MiB" in r.stdout


def test_wheel_list_matches_the_pins():
    "wheels.txt names exact versions, constraints.txt's where it pins the package, and nothing twice."
    pins = dict(l.split("==") for l in (ROOT / "constraints.txt").read_text().splitlines() if "==" in l and not l.startswith("#"))
    norm = lambda n: n.lower().replace("_", "-")
    pins = {norm(k): v for k, v in pins.items()}
    want = [l.split("==") for l in (ROOT / "bench/device/wheels.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert all(len(w) == 2 for w in want) and len({norm(n) for n, _ in want}) == len(want), want
    for name, version in want:
        if norm(name) in pins: assert pins[norm(name)] == version, (name, version, pins[norm(name)])
    assert "bitsandbytes" not in {norm(n) for n, _ in want}  # 43 MB: does not fit beside the tree (README.md)


def test_fetch_command_is_the_documented_one():
    "The download command the README shows is the script's (no download here)."
    s = (ROOT / "bench/device/run.sh").read_text()
    for part in ("pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp",
                 "pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target"):
        assert part in s
    assert subprocess.run(["git", "check-ignore", "-q", ".whl/x.whl"], cwd=ROOT).returncode == 0  # the wheels never travel twice


def test_each_row_is_written_as_it_ends(tmp_path):
    "A stopped run keeps every finished row; a failing row records its error and the next runs; one the budget cannot hold is skipped."
    sys.path.insert(0, str(ROOT / "bench"))
    import gpu_check
    rep = gpu_check.Report(tmp_path, dict(mode="test", runtime={}, versions={}), budget_s=60)
    rep.run("first", lambda: dict(x=1))
    assert json.loads((tmp_path / "gpu_check.json").read_text())["rows"][0]["status"] == "ran"  # on disk before the next row
    rep.run("fails", lambda: 1 / 0)
    rep.run("too long", lambda: dict(x=2), need_s=3600)
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["rows"]
    assert [r["row"] for r in rows] == ["first", "fails", "too long"]
    assert rows[1]["status"].startswith("error: ZeroDivisionError") and "1 / 0" in rows[1]["traceback"]
    assert rows[2]["status"].startswith("skipped") and "x" not in rows[2]
    assert "| fails | error: ZeroDivisionError" in (tmp_path / "gpu_check.md").read_text()
