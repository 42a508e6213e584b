"""The one prepared check for a GPU machine (run through bench/gpu_check.sh, under 8 minutes), by hand.

1. the runtime and versions; 2. the GPU's measured bf16 matmul rate; 3. SAU steps on SD v1.5's architecture (random
weights) at 512 px, batch 1, every parameter set × memory mode, with `torch.cuda.set_per_process_memory_fraction` at a
15 GB card (the T4 profile, float16) and unlimited (the H200 profile): peak `max_memory_allocated`, steps per second,
and in the H200 profile the FLOPs per step (`torch.utils.flop_counter.FlopCounterMode`) and the achieved rate against
the matmul rate; 4. the tiny world's demo on CUDA (`sau_nb demo`). Writes OUT/gpu_check.json and OUT/gpu_check.md.

`--dry-run` runs the same code on a CPU at tiny sizes (`sd_pipeline("small")`, 128 px, 1 step, float32 matmuls) and
only parses the demo's command line (the demo takes minutes on a CPU): tests/test_sd.py runs it so this script cannot rot.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_sd_memory as bench  # noqa: E402

T4_GB = 15.


def matmul_rate(n: int, dtype, device, repeats: int = 10) -> float:
    "Measured TFLOP/s of an n×n by n×n matmul (2n³ FLOPs), after a warm-up."
    import torch
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3): a @ b
    sync(); t0 = time.perf_counter()
    for _ in range(repeats): a @ b
    sync()
    return 2 * n ** 3 * repeats / (time.perf_counter() - t0) / 1e12


def profiles(dry: bool) -> list[dict]:
    "The memory profiles to run: a T4's 15 GB in float16, and the whole GPU in sau_nb's dtype."
    return [dict(name="T4 profile (15 GB, float16)", fraction_gb=None if dry else T4_GB, dtype=None if dry else "float16", flops=False),
            dict(name="H200 profile (unlimited)", fraction_gb=None, dtype=None, flops=True)]  # FLOP/s where the target is set


def demo_cmd(out: Path) -> list[str]:
    "The tiny world's demo as a user runs it, on CUDA."
    exe = Path(sys.executable).parent / "sau_nb"
    return [str(exe) if exe.exists() else "sau_nb", "demo", "--out", str(out), "--overwrite", "--device", "cuda"]


def md(rows: list[dict], cols) -> str:
    "Rows as a markdown table over `cols`."
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (the test's mode)")
    ap.add_argument("--out", default="gpu_check_out", help="folder for gpu_check.json and gpu_check.md (and the demo's report)")
    ap.add_argument("--steps", type=int, default=3, help="SAU steps per row (the first is warm-up)")
    ap.add_argument("--no-demo", action="store_true", help="skip the tiny world's demo")
    a = ap.parse_args(argv)
    import torch
    from sau_nb.sd import check_gpu, versions
    t0 = time.time()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if not a.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run on a CPU.", file=sys.stderr); return 2
    dev = torch.device("cpu" if a.dry_run else "cuda")
    res = dict(mode="dry-run (CPU, tiny sizes: the figures mean nothing)" if a.dry_run else "GPU", runtime=check_gpu(), versions=versions())
    print(json.dumps(res, indent=1), flush=True)

    n, dt = (256, torch.float32) if a.dry_run else (8192, torch.bfloat16)
    res["matmul"] = dict(n=n, dtype=str(dt).removeprefix("torch."), tflops=float(f"{matmul_rate(n, dt, dev):.4g}"))
    print(f"matmul {n}×{n} {res['matmul']['dtype']}: {res['matmul']['tflops']} TFLOP/s", flush=True)

    px, arch, steps = (128, "small", 1) if a.dry_run else (512, "sd15", a.steps)
    res["rows"] = []
    for prof in profiles(a.dry_run):
        run, skipped, _ = bench.plan(px, dev.type, 1e9, arch)  # on a GPU nothing is skipped by the estimate: the fraction decides
        rows = bench.run_group(px, run, dev.type, steps, 1e9, prof["fraction_gb"], prof["dtype"], timeout=240, arch=arch,
                              flops=prof["flops"])
        for r in rows + skipped:
            r["profile"] = prof["name"]
            s = sorted(r.get("step_seconds", [])[1:] or r.get("step_seconds") or [])
            if s: r["steps_per_s"] = round(1 / s[len(s) // 2], 2)
            if r.get("achieved_tflops"): r["share_of_matmul"] = float(f"{r['achieved_tflops'] / res['matmul']['tflops']:.3g}")
            res["rows"].append(r)
        print(f"{prof['name']}: {len(rows)} rows run, {len(skipped)} reported ({time.time() - t0:.0f} s so far)", flush=True)

    cmd = demo_cmd(out / "demo")
    if a.dry_run or a.no_demo:
        from sau_nb.cli import _parser
        _parser().parse_args(cmd[1:])  # the command line stays valid
        res["demo"] = dict(command=" ".join(cmd), status="parsed only (dry run or --no-demo)")
    else:
        t1 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=max(30, 450 - (t1 - t0)))
        res["demo"] = dict(command=" ".join(cmd), returncode=p.returncode, seconds=round(time.time() - t1, 1),
                           stdout_tail=p.stdout[-1500:], stderr_tail=p.stderr[-800:])
    res["seconds"] = round(time.time() - t0, 1)

    cols = ("profile", "params", "memory", "status", "dtype", "peak_gb", "steps_per_s", "flops_per_step", "achieved_tflops", "share_of_matmul")
    text = (f"# gpu_check ({res['mode']})\n\n{json.dumps(res['runtime'])}\n\nmatmul {n}×{n} {res['matmul']['dtype']}: "
            f"{res['matmul']['tflops']} TFLOP/s\n\n{md(res['rows'], cols)}\n\ndemo: {res['demo']}\n\ntotal {res['seconds']} s\n")
    (out / "gpu_check.json").write_text(json.dumps(res, indent=1))
    (out / "gpu_check.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
