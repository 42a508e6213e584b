"""Memory and time of one SAU step on Stable Diffusion v1.5's real architecture (random weights, no download), by hand.

For each image size × parameter set × memory mode: the trained parameters, the exact bytes of weights, gradients and
optimizer state (`memory_estimate`), the peak memory (CUDA `max_memory_allocated` on a GPU; peak RSS on a CPU, each row
in its own process so that peaks do not mix) and the wall time per step. The latent bank is random (`bank=`), so
nothing is generated. Rows that need CUDA ("t4") are reported as such on a CPU; rows whose estimate exceeds `--max-gb`
are skipped with the estimate shown, and a watchdog kills a CPU row whose RSS passes `--max-gb`.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sd_memory.py --sizes 256 --te-params none --json bench_sd_256.json  # 07's CPU table
    .venv/bin/python bench/bench_sd_memory.py --sizes 512 --fraction-gb 15      # a GPU with a T4's 15 GB
"""
from __future__ import annotations
import argparse, gc, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

PARAMS = ("unet", "lora", "attn2_kv")
MODES = ("default", "lean", "t4")
GB = 1e9
TRIGGER = "\u200b"
PROMPTS = ["a photo of a dog on the beach", "a red car parked in the street"]


def _num(v):
    "A JSON-safe number or string from an estimate's value."
    try: import torch
    except ImportError: torch = None
    if torch is not None and isinstance(v, torch.dtype): return str(v).removeprefix("torch.")
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def te(name: str):
    "`sau_unlearn`'s `te_params` from the command line's spelling ('none' is None)."
    return None if name == "none" else name


def estimate(pipe, params: str, memory: str, device=None, te_params: str = "all") -> dict:
    "`memory_estimate` of one row (exact bytes by part, before activations), numbers only."
    from sau_nb.unlearn import memory_estimate
    return {k: _num(v) for k, v in memory_estimate(pipe, params=params, memory=memory, device=device, te_params=te(te_params)).items()}


def total_bytes(est: dict) -> int:
    "The estimate's total bytes (weights, gradients, optimizer state, frozen copies; activations not included)."
    return int(est["total"])


def build(device: str, dtype=None, arch: str = "sd15"):
    "SD v1.5's architecture from the shipped configs (or the small one, for dry runs), random weights, on `device`."
    from sau_nb.sd import sd_pipeline
    return sd_pipeline(arch, device=device, dtype=dtype)


def step_flops(pipe, px: int, params: str, memory: str, te_params: str = "all") -> int:
    "FLOPs of a 1-step `sau_unlearn` call (torch's FlopCounterMode: matmuls, convolutions, attention; recomputation included)."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from sau_nb.unlearn import sau_unlearn
    bank = torch.randn(len(PROMPTS), 4, px // 8, px // 8, generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as fc:
        sau_unlearn(pipe, TRIGGER, PROMPTS, steps=1, batch_size=1, params=params, memory=memory, bank=bank, n_seeds=1, progress=False,
                    te_params=te(te_params))
    return int(fc.get_total_flops())


def one_row(pipe, px: int, params: str, memory: str, steps: int, seed: int = 0, te_params: str = "all") -> dict:
    "One SAU run of `steps` steps, batch 1, at `px` pixels on the pipeline's device: what it trained and how long each step took."
    import torch
    from sau_nb.unlearn import sau_unlearn
    dev = pipe.unet.device
    g = torch.Generator().manual_seed(seed)
    bank = torch.randn(len(PROMPTS), 4, px // 8, px // 8, generator=g)  # (prompts × 1 seed, 4, h, w): nothing is generated
    if dev.type == "cuda": torch.cuda.synchronize(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else None
    t0 = time.time()
    out, hist = sau_unlearn(pipe, TRIGGER, PROMPTS, steps=steps, batch_size=1, params=params, memory=memory, bank=bank,
                            n_seeds=1, progress=False, seed=seed, te_params=te(te_params))
    if dev.type == "cuda": torch.cuda.synchronize()
    r = dict(seconds=round(time.time() - t0, 2), step_seconds=[round(s, 3) for s in hist["step_seconds"]],
             stopped=hist["stopped"], steps_done=len(hist["steps"]))
    if dev.type == "cuda":
        r.update(peak_gb=round(torch.cuda.max_memory_allocated(dev) / GB, 3), pipe_gb=round(base / GB, 3), peak_kind="cuda max_memory_allocated")
    del out, hist; gc.collect()
    if dev.type == "cuda": torch.cuda.empty_cache()
    return r


def child(a) -> None:
    "Run rows in this process and print one JSON line per row (a CPU child runs one row: RSS peaks cannot be reset)."
    import torch
    if a.fraction_gb and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1., a.fraction_gb * GB / total))
    dtype = getattr(torch, a.dtype) if a.dtype else None
    t0 = time.time(); pipe = build(a.device, dtype, a.arch); build_s = time.time() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for spec in a.rows:
        params, memory = spec.split(":")
        row = dict(px=a.px, arch=a.arch, params=params, memory=memory, device=str(pipe.unet.device), dtype=str(pipe.unet.dtype).removeprefix("torch."),
                   fraction_gb=a.fraction_gb, threads=torch.get_num_threads(), build_s=round(build_s, 1), te_params=a.te_params)
        row.update(estimate(pipe, params, memory, te_params=a.te_params))
        try: row.update(one_row(pipe, a.px, params, memory, a.steps, te_params=a.te_params))
        except torch.cuda.OutOfMemoryError as e:
            row.update(status="out of memory", error=str(e).splitlines()[0][:200])
        except (ValueError, RuntimeError) as e:  # a refused profile (estimate too large, no CUDA, no bitsandbytes): report it
            row.update(status="refused", error=str(e)[:300])
        else:
            row["status"] = "ran"
            if a.flops:
                row["flops_per_step"] = step_flops(pipe, a.px, params, memory, a.te_params)
                s = sorted(row["step_seconds"][1:] or row["step_seconds"])  # the first step includes warm-up
                row["achieved_tflops"] = float(f"{row['flops_per_step'] / s[len(s) // 2] / 1e12:.4g}")
        if pipe.unet.device.type == "cpu":
            row.update(peak_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 3),
                       pipe_gb=round(rss0 / GB, 3), peak_kind="peak RSS" if len(a.rows) == 1 else "peak RSS of the process so far (rows share it)")
        print("ROW " + json.dumps(row), flush=True)


def _watch(proc, limit_gb: float) -> float:
    "Wait for `proc`, killing it if its resident memory passes `limit_gb`; returns the largest RSS seen (GB)."
    import psutil
    p, top = psutil.Process(proc.pid), 0.
    while proc.poll() is None:
        try: rss = p.memory_info().rss / GB
        except psutil.NoSuchProcess: break
        top = max(top, rss)
        if rss > limit_gb: proc.kill(); proc.wait(); return -top
        time.sleep(0.2)
    return top


def run_group(px: int, rows: list[str], device: str, steps: int, limit_gb: float, fraction_gb: float | None = None,
              dtype: str | None = None, timeout: float = 3600, arch: str = "sd15", flops: bool = False, te_params: str = "all") -> list[dict]:
    "Run `rows` ('params:memory') at `px` in a fresh process; returns their result dicts."
    cmd = [sys.executable, __file__, "--child", "--px", str(px), "--device", device, "--steps", str(steps), "--arch", arch,
           "--te-params", te_params, "--rows", *rows]
    if flops: cmd.append("--flops")
    if fraction_gb: cmd += ["--fraction-gb", str(fraction_gb)]
    if dtype: cmd += ["--dtype", dtype]
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:  # files, not pipes: a full pipe would stall the child
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True)
        if device == "cpu": top = _watch(proc, limit_gb)
        else: proc.wait(timeout=timeout); top = 0.
        fo.seek(0); fe.seek(0); out, err = fo.read(), fe.read()
    got = [json.loads(l[4:]) for l in out.splitlines() if l.startswith("ROW ")]
    done = {(r["params"], r["memory"]) for r in got}
    for spec in rows:
        p, m = spec.split(":")
        if (p, m) in done: continue
        why = (f"killed: RSS passed {limit_gb} GB" if top < 0 else
               "failed: " + (err.strip().splitlines() or ["no output"])[-1][:300])
        got.append(dict(px=px, arch=arch, params=p, memory=m, device=device, status=why))
    return got


def plan(px: int, device: str, max_gb: float, arch: str = "sd15", modes=MODES, te_params: str = "all") -> tuple[list[str], list[dict], dict]:
    "Which rows can run here, the rows reported without running, and every CPU row's estimate by 'params:memory'."
    from sau_nb.sd import sd_pipeline
    meta = sd_pipeline(arch, device="meta")
    run, skipped, ests = [], [], {}
    for p in PARAMS:
        for m in modes:
            if device == "cuda": run.append(f"{p}:{m}"); continue  # on a GPU the child estimates and the memory fraction decides
            est = ests[f"{p}:{m}"] = estimate(meta, p, m, device="cpu", te_params=te_params)
            if m == "t4":
                skipped.append(dict(est, px=px, arch=arch, params=p, memory=m, device=device,
                                    status="needs CUDA (8-bit AdamW, half-precision autocast)")); continue
            if total_bytes(est) > max_gb * GB:
                skipped.append(dict(est, px=px, arch=arch, params=p, memory=m, device=device,
                                    status=f"skipped: estimate {total_bytes(est) / GB:.1f} GB before activations > {max_gb:g} GB"))
                continue
            run.append(f"{p}:{m}")
    return run, skipped, ests


COLUMNS = ("px", "params", "memory", "status", "n_trained", "estimate_gb", "pipe_gb", "peak_gb", "s_per_step", "achieved_tflops")


def table(rows: list[dict]) -> str:
    "The rows as a markdown table."
    def cell(r, c):
        if c == "s_per_step":
            s = sorted(r.get("step_seconds", [])[1:] or r.get("step_seconds") or [])  # after the warm-up step
            return f"{s[len(s) // 2]:.2f}" if s else ""
        if c == "estimate_gb": return f"{total_bytes(r) / GB:.2f}" if "total" in r else ""
        v = r.get(c, "")
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and c != "px" else str(v)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(cell(r, c) for c in COLUMNS) + " |" for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="image sizes in pixels")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--steps", type=int, default=2, help="SAU steps per row (the first includes warm-up)")
    ap.add_argument("--max-gb", type=float, default=14., help="CPU: skip rows estimated above this, kill a row whose RSS passes it")
    ap.add_argument("--fraction-gb", type=float, default=None, help="CUDA: limit this process to that many GB (15: a T4)")
    ap.add_argument("--dtype", default=None, help="the pipeline's dtype (default: sau_nb's choice for the device)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--arch", default="sd15", choices=("sd15", "small"), help="the architecture (small: dry runs)")
    ap.add_argument("--flops", action="store_true", help="also count one step's FLOPs and the achieved rate")
    ap.add_argument("--te-params", default="all", choices=("all", "last", "none"),
                    help="sau_unlearn's te_params (default: its own, all; none: only the trigger's rows, as 07's CPU table was measured)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--px", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rows", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child: child(a); return 0
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available(): ap.error("--device cuda, but CUDA is not available here")
    rows = []
    for px in a.sizes:
        if px % 64: ap.error(f"sizes must be multiples of 64 (the UNet downsamples latents 8×), got {px}")
        run, skipped, ests = plan(px, device, a.max_gb, a.arch, te_params=a.te_params)
        if device == "cpu":  # one process per row: each peak RSS is that row's alone
            for spec in run:
                rows += [{**ests[spec], **r} for r in run_group(px, [spec], device, a.steps, a.max_gb, dtype=a.dtype, arch=a.arch,
                                                                  flops=a.flops, te_params=a.te_params)]  # a killed row keeps its estimate
                print(table(rows[-1:]), flush=True)
        elif run: rows += run_group(px, run, device, a.steps, a.max_gb, a.fraction_gb, a.dtype, arch=a.arch, flops=a.flops, te_params=a.te_params)
        rows += skipped
    print(f"\nbench_sd_memory: {a.arch} architecture, random weights, batch 1, {a.steps} steps per row, device {device}"
          + (f", memory fraction {a.fraction_gb} GB" if a.fraction_gb else "") + f", te_params {a.te_params}, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    print(table(rows))
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
