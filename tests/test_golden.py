"""Refactoring guard: 3-step runs of every trainer (SAU per params × memory × te_params, the trained baselines, the UNet, LoRA and
text-encoder injections) give the stored weights and losses bit for bit (`tests/golden.py`; regenerate with `--write` only when a
change of results is meant)."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
sys.path.insert(0, str(Path(__file__).parent))
from golden import fingerprint, stored, stored_for

def test_golden_hashes():
    want = stored_for(fingerprint())
    if want is None:
        pytest.skip(f"no hashes stored for this kind of host ({fingerprint()}; stored: {[h['fingerprint'] for h in stored()]}): run "
                    "`python tests/golden.py --write` here on the commit before your change, then compare after it")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a fresh, single-threaded process: same kernels, same reduction order
    r = subprocess.run([sys.executable, str(Path(__file__).parent/"golden.py")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.splitlines()[-1])["runs"]
    assert list(got) == list(want["runs"]), "the golden runs changed: a case was added or removed"
    bad = {k: (want["runs"][k], v) for k, v in got.items() if v != want["runs"][k]}
    assert not bad, f"results changed (stored, now): {json.dumps(bad, indent=1)}"
