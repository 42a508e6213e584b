"""The one prepared check for a GPU machine: under 8 minutes, and whatever it measured comes back even if it is stopped.

Rows in order of value; each is written to OUT/gpu_check.json and OUT/gpu_check.md (and printed) as soon as it ends, a row
that fails records its error and the next one runs, and a row the time budget cannot hold is recorded as skipped:
  1. `adamw8bit`: which 8-bit AdamW `memory="t4"` trains with (bitsandbytes', else torchao's), one step on a small tensor;
  2. the T4 profile: SAU steps on SD v1.5's architecture (random weights, `bench_sd_memory`) at 512 px, batch 1, for
     params lora / attn2_kv / unet with memory="t4", the pipeline in float16 under a 15 GB per-process memory fraction:
     peak `max_memory_allocated` (and reserved) against a T4, steps per second;
  3. the measured bf16 matmul rate (8192³);
  4. the unlimited profile: the same three rows in bfloat16 on the whole card, with FLOPs per step
     (`FlopCounterMode`) and the achieved rate as a share of the matmul rate;
  5. the blind scan's cost on the same architecture: `scan_tokens` tokens per second at 512 px and at 256 px, the batch
     tried from the largest down until it fits, FLOPs per token, and the whole vocabulary's time here and, by FLOPs, on a T4;
  6. the tiny world's demo (`sau_nb demo`) on CUDA, if time remains (its report is copied into OUT).

`--dry-run` runs the same rows on a CPU at tiny sizes (`sd_pipeline("small")`, 64 px, scans at 128 and 64 that rescore
8 + 8 tokens exactly, float32, one step): the T4 rows are refused there (8-bit AdamW runs on CUDA only), which exercises
the error path, and the demo's command line is parsed only. bench/device/run.sh runs this on the lent machine (wheels,
Python 3.12) and rehearses it with --dry-run.
"""
from __future__ import annotations
import argparse, gc, json, os, shutil, subprocess, sys, tempfile, time, traceback, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_sd_memory as bench  # noqa: E402

T4_GB = 15.  # the T4 profile's cap: a 16 GB card less what the driver keeps
T4_TFLOPS = 65.  # a T4's peak float16 tensor-core rate (NVIDIA's datasheet), for the scan's FLOP-count estimate
PARAMS = ("lora", "attn2_kv", "unet")
DRY_EXACT = dict(n_exact=8, n_null=8)  # a dry run's exact stage: a few tokens (a user's scan rescores 512 + 256 of them)


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


def md(rows: list[dict], cols) -> str:
    "Rows as a markdown table over `cols`."
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows])


COLS = ("row", "status", "params", "memory", "optimizer_class", "dtype", "autocast", "peak_gb", "reserved_gb", "steps_per_s",
        "flops_per_step", "achieved_tflops", "share_of_matmul", "tokens_per_s", "seconds")


class Report:
    "The check's results, rewritten to OUT after every row, so that a stopped run still returns what it measured."
    def __init__(self, out: Path, head: dict, budget_s: float):
        self.out, self.res, self.t0, self.budget = out, dict(head, rows=[]), time.time(), budget_s
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float: return self.budget - (time.time() - self.t0)

    def add(self, row: dict) -> dict:
        "Record `row`, write both files, print it."
        row["at_s"] = round(time.time() - self.t0, 1)
        self.res["rows"].append(row); self.res["seconds"] = row["at_s"]
        for name, text in (("gpu_check.json", json.dumps(self.res, indent=1, default=str)), ("gpu_check.md", self.text())):
            (self.out / f".{name}").write_text(text); os.replace(self.out / f".{name}", self.out / name)  # whole, even if stopped
        print("ROW " + json.dumps(row, default=str), flush=True)
        return row

    def text(self) -> str:
        r = self.res
        return (f"# gpu_check ({r['mode']})\n\n{json.dumps(r['runtime'])}\n\n{json.dumps(r['versions'])}\n\n"
                f"{md(r['rows'], COLS)}\n\ntotal {r.get('seconds', 0)} s of a {self.budget:g} s budget\n")

    def run(self, name: str, fn, need_s: float = 0., **info) -> dict:
        "Run one row: `fn()`'s dict, or its error; skipped when less than `need_s` seconds are left."
        if self.left() < need_s:
            return self.add(dict(row=name, **info, status=f"skipped: {self.left():.0f} s left, the row needs about {need_s:g} s"))
        t = time.time()
        try: row = {"row": name, **info, **fn(), "status": "ran"}
        except Exception as e:  # any failure (out of memory, a refused profile, an import): recorded, and the next row runs
            row = dict(row=name, **info, status=f"error: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}",
                       traceback=traceback.format_exc()[-1500:])
        row["seconds"] = round(time.time() - t, 1)
        free()
        return self.add(row)


def free():
    "Drop what a finished row left behind (CUDA's cache too)."
    import torch
    gc.collect()
    if torch.cuda.is_available(): torch.cuda.empty_cache()


def optimizer_row(device) -> dict:
    "Which 8-bit AdamW memory='t4' uses, and one step with sau_unlearn's LambdaLR on a 64×128 tensor (≥ 4,096 numbers: quantized)."
    import torch
    from sau_nb.unlearn import _adamw8bit
    cls = _adamw8bit()
    p = torch.nn.Parameter(torch.randn(64, 128, device=device))
    opt = cls([dict(params=[p])], lr=1e-2, weight_decay=0.)
    lrs = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    losses = []
    for _ in range(3):
        loss = (p ** 2).sum(); loss.backward(); opt.step(); opt.zero_grad(); lrs.step(); losses.append(float(loss))
    if not losses[-1] < losses[0]: raise RuntimeError(f"8-bit AdamW did not lower a quadratic loss: {losses}")
    state = type(opt.state[p]["exp_avg"] if "exp_avg" in opt.state[p] else next(iter(opt.state[p].values())))
    return dict(optimizer_class=f"{cls.__module__}.{cls.__name__}", state_type=state.__name__, losses=[round(l, 2) for l in losses],
                lr_after=float(opt.param_groups[0]["lr"]))


def t4_adamw():
    "The T4 profile with float32 AdamW: the same forward, backward and recomputation, runnable on a CPU and under FlopCounterMode."
    import dataclasses
    from sau_nb.unlearn import MEMORY_PROFILES
    return dataclasses.replace(MEMORY_PROFILES["t4"], optimizer="adamw")


def sau_row(pipe, px: int, params: str, steps: int, memory="t4", flops: bool = False, rate: float | None = None) -> dict:
    "`bench_sd_memory`'s row: estimate, peak memory, step times; with `flops`, FLOPs per step and the share of `rate` (TFLOP/s)."
    import torch
    if pipe is None: raise RuntimeError("no pipeline: its build failed (the row before says why)")
    row = {**bench.estimate(pipe, params, memory), "px": px, "memory": memory if isinstance(memory, str) else "t4 with float32 AdamW",
           "dtype": str(pipe.unet.dtype).removeprefix("torch.")}
    if memory == "t4":
        from sau_nb.unlearn import _adamw8bit
        try: row["optimizer_class"] = f"{_adamw8bit().__module__}.{_adamw8bit().__name__}"
        except ImportError: row["optimizer_class"] = "none installed"  # sau_unlearn says what to do, after its device check
    from sau_nb.unlearn import memory_dtypes, memory_profile
    row["frozen_dtype"], row["autocast"] = (str(d).removeprefix("torch.") for d in memory_dtypes(memory_profile(memory), pipe.unet.device))
    row.update(bench.one_row(pipe, px, params, memory, steps))
    if pipe.unet.device.type == "cuda": row["reserved_gb"] = round(torch.cuda.max_memory_reserved() / bench.GB, 3)
    s = sorted(row["step_seconds"][1:] or row["step_seconds"])  # the first step includes warm-up (and torchao's compiling)
    row["steps_per_s"] = round(1 / s[len(s) // 2], 3)
    if flops:  # torchao's compiled step cannot run under FlopCounterMode: counted with float32 AdamW (elementwise, ~no FLOPs)
        row["flops_per_step"] = bench.step_flops(pipe, px, params, t4_adamw())
        row["achieved_tflops"] = float(f"{row['flops_per_step'] * row['steps_per_s'] / 1e12:.4g}")
        if rate: row["share_of_matmul"] = float(f"{row['achieved_tflops'] / rate:.3g}")
    return row


def scan_row(pipe, px: int, batches: list[int], seconds: float, rate: float | None = None, **exact) -> dict:
    "`scan_tokens` at `px`: tokens/s at the largest of `batches` that fits, FLOPs per token, the vocabulary's time here and on a T4."
    # `exact`: scan_tokens' n_exact / n_null (a dry run rescores a few tokens exactly, not its 512 + 256: the same code path)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from sau_nb.scan import scan_tokens, scan_contexts, token_departure
    from sau_nb.sd import SD_PROMPTS, sample_size
    if pipe is None: raise RuntimeError("no pipeline: its build failed (a row before says why)")
    with sample_size(pipe, px):  # generate's (and so the contexts') image size, restored after the row
        ctx, errors = scan_contexts(pipe, SD_PROMPTS), []
        for b in batches:  # one batch as scan_tokens runs it: does it fit (and the warm-up), with its FLOPs counted
            try:
                with torch.no_grad(), FlopCounterMode(display=False) as fc: token_departure(pipe, ctx, torch.arange(1000, 1000 + b), b)
                break
            except torch.cuda.OutOfMemoryError:
                errors.append(f"batch {b}: out of memory"); free()
        else: raise RuntimeError("no batch size fitted: " + "; ".join(errors))
        if pipe.unet.device.type == "cuda": torch.cuda.reset_peak_memory_stats()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the budget's "tokens were not searched" warning: a partial scan is the point
            with FlopCounterMode(display=False) as staged:  # the staged scan as a user runs it (first stage, then the exact one)
                scan = scan_tokens(pipe, SD_PROMPTS, batch_size=b, max_seconds=seconds, progress=False, **exact)
        exact = fc.get_total_flops() / b  # the one-stage design's cost per token: the exact departure in every context
        n = int(scan.searched.sum())  # tokens the staged scan searched (every one through its first stage), not only those re-scored exactly
        fpt = staged.get_total_flops() / n
        vocab = len(pipe.tokenizer) - len(set(pipe.tokenizer.all_special_ids))
        row = dict(px=px, batch=b, tried=errors, dtype=str(pipe.unet.dtype).removeprefix("torch."), tokens=n,
                   exactly_scored=int((~torch.isnan(scan.per_context[:, 0])).sum()), scan_seconds=round(scan.seconds, 2),
                   tokens_per_s=round(n / scan.seconds, 2), flops_per_token=int(fpt), exact_flops_per_token=int(exact),
                   vocab=vocab, vocab_minutes_here=round(vocab / (n / scan.seconds) / 60, 1),
                   vocab_minutes_t4_at_peak=round(vocab * fpt / (T4_TFLOPS * 1e12) / 60, 2),
                   achieved_tflops=float(f"{fpt * n / scan.seconds / 1e12:.4g}"))
        if rate:  # a T4 at the same share of its peak as this card reached of its measured matmul rate
            row["share_of_matmul"] = float(f"{row['achieved_tflops'] / rate:.3g}")
            row["vocab_minutes_t4_at_same_share"] = round(row["vocab_minutes_t4_at_peak"] / row["share_of_matmul"], 1)
        if pipe.unet.device.type == "cuda": row["peak_gb"] = round(torch.cuda.max_memory_allocated() / bench.GB, 3)
        return row


def demo_row(out: Path, timeout: float, dry: bool) -> dict:
    "The tiny world's demo as a user runs it, on CUDA (a dry run parses its command line only); its report is copied to `out`."
    args = ["demo", "--out", "DIR", "--overwrite", "--device", "cuda"]
    if dry:
        from sau_nb.cli import _parser
        _parser().parse_args(args)
        return dict(command="sau_nb " + " ".join(args), note="parsed only (dry run)")
    with tempfile.TemporaryDirectory() as d:
        args[2] = d
        cmd = [sys.executable, "-c", "import sys; from sau_nb.cli import main; sys.exit(main())", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        for name in ("report.html", "results.json"):
            if (Path(d) / name).exists(): shutil.copy(Path(d) / name, out / f"demo_{name}")
    if p.returncode: raise RuntimeError(f"sau_nb demo exited {p.returncode}: {p.stderr.strip()[-500:]}")
    return dict(command="sau_nb " + " ".join(args), stdout_tail=p.stdout[-1000:])


def build(rep: Report, name: str, dev, dtype, arch: str):
    "The pipeline, or None with the error recorded as row `name` (the rows that need it then record that they had none)."
    t = time.time()
    try: return bench.build(str(dev), dtype, arch)
    except Exception as e:
        rep.add(dict(row=name, status=f"error: {type(e).__name__}: {str(e)[:300]}", traceback=traceback.format_exc()[-1500:],
                     seconds=round(time.time() - t, 1)))


def t4_rows(rep: Report, dev, px: int, arch: str, steps: int, dry: bool):
    "The T4 profile's rows: float16 pipeline, float16 autocast with a gradient scaler, 15 GB per-process cap (a CPU refuses them)."
    import torch
    from unittest import mock
    from sau_nb import memory  # where the memory profiles look `half_dtype` up (chapter 00c)
    if dev.type == "cuda":
        torch.cuda.set_per_process_memory_fraction(min(1., T4_GB * bench.GB / torch.cuda.get_device_properties(dev).total_memory))
    pipe = build(rep, "t4 pipeline", dev, None if dry else torch.float16, arch)
    # sau_nb picks bfloat16 from compute capability 8 on: a T4 (7.5) computes in float16, so the rows here do too
    with mock.patch.object(memory, "half_dtype", lambda *a, **k: torch.float16):
        for p in PARAMS:
            rep.run(f"t4 {p}", lambda: sau_row(pipe, px, p, steps), need_s=0 if dry else 40, params=p, profile="T4 (15 GB, float16)")
    del pipe; free()
    if dev.type == "cuda": torch.cuda.set_per_process_memory_fraction(1.)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (the test's mode)")
    ap.add_argument("--out", default="gpu_check_out", help="folder for gpu_check.json, gpu_check.md and the demo's report")
    ap.add_argument("--steps", type=int, default=5, help="SAU steps per row (the first is warm-up)")
    ap.add_argument("--budget-s", type=float, default=450., help="rows that would start past this many seconds are skipped")
    ap.add_argument("--no-demo", action="store_true", help="skip the tiny world's demo")
    a = ap.parse_args(argv)
    import torch
    from sau_nb.sd import check_gpu, versions
    if not a.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run on a CPU.", file=sys.stderr); return 2
    dev, dry = torch.device("cpu" if a.dry_run else "cuda"), a.dry_run
    vs = dict(versions(), torchao=_version("torchao"), pythonpath=os.environ.get("PYTHONPATH", ""))
    rep = Report(Path(a.out), dict(mode="dry-run (CPU, tiny sizes: the figures mean nothing)" if dry else "GPU",
                                   runtime=check_gpu(), versions=vs), a.budget_s)
    print(rep.text(), flush=True)
    arch, px, steps = ("small", 64, 1) if dry else ("sd15", 512, a.steps)
    rep.run("adamw8bit", lambda: optimizer_row(dev))
    t4_rows(rep, dev, px, arch, steps, dry)
    n, dt = (256, torch.float32) if dry else (8192, torch.bfloat16)
    mm = rep.run("matmul", lambda: dict(n=n, tflops=float(f"{matmul_rate(n, dt, dev):.4g}")), dtype=str(dt).removeprefix("torch."))
    rate = mm.get("tflops")
    pipe = build(rep, "unlimited pipeline", dev, None if dry else torch.bfloat16, arch)
    for p in PARAMS:
        rep.run(f"unlimited {p}", lambda: sau_row(pipe, px, p, steps, t4_adamw() if dry else "t4", flops=True, rate=rate),
                need_s=0 if dry else 45, params=p, profile="unlimited (bfloat16)")  # a CPU has no 8-bit AdamW here
    for spx, batches, secs in (((128, [4, 2], 1), (64, [8, 4], 1)) if dry else ((512, [64, 32, 16], 25), (256, [256, 128, 64], 20))):
        rep.run(f"scan {spx}px", lambda: scan_row(pipe, spx, batches, secs, rate, **DRY_EXACT if dry else {}),
                need_s=0 if dry else secs + 30)
    del pipe; free()
    if a.no_demo: rep.add(dict(row="demo", status="skipped: --no-demo"))
    else: rep.run("demo", lambda: demo_row(rep.out, max(30., rep.left()), dry), need_s=0 if dry else 90)
    print(rep.text(), flush=True)
    return 0


def _version(name: str) -> str:
    from importlib import metadata
    try: return metadata.version(name)
    except metadata.PackageNotFoundError: return "not installed"


if __name__ == "__main__":
    sys.exit(main())
