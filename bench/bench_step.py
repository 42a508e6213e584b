"""One SAU step, measured: this machine's float32 matmul rate, the median seconds of a step with the defaults, where a step's time
goes (the `sau.*` profiler labels inside `sau_unlearn` and `sau_loss`), and the FLOPs of a step (`torch.utils.flop_counter`) →
achieved GFLOP/s and its share of the matmul rate. The latent bank is made before anything is timed.

Run by hand (never in the tests), on one thread:
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_step.py --label before   # one JSON line appended to runs/step/step.jsonl
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_step.py --steps 30 --prompts 24 --label after
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_step.py --variants [--compile]   # the UNet's forward+backward alone, four ways
Prints a markdown table of the run's stages; the notebook's table (11_benchmarks) quotes this output with its command."""
import argparse, json, os, platform, statistics, time
from pathlib import Path
import numpy as np, torch
from torch.utils.flop_counter import FlopCounterMode
from benchlib import cpu_info, timeit
from sau_nb.core import md_table
from sau_nb.world import heldout_prompts, load_world
from sau_nb.unlearn import latent_bank, sau_unlearn

STAGES = ("sau.sample", "sau.encode_teacher", "sau.encode_student", "sau.loss", "sau.teacher_unet", "sau.student_forward", "sau.backward",
          "sau.clip", "sau.optimizer")  # the labels `sau_unlearn` and `sau_loss` set; teacher, forward and backward lie inside sau.loss

def matmul_rate(sizes=(256, 512, 1024, 2048), repeats=5) -> dict:
    "GFLOP/s of float32 square matmuls (2n³ FLOPs each), best of `repeats`, per size."
    out = {}
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b  # warm up
        out[n] = 2 * n ** 3 / timeit(lambda: a @ b, repeats)[1] / 1e9
    return out

def stage_seconds(run, steps:int) -> dict:
    "Seconds per step in each `sau.*` label, averaged over a profiled run of `steps` steps; `other`: the step outside every label."
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof: h = run(steps)
    tot = {e.key: e.cpu_time_total / 1e6 for e in prof.key_averages() if e.key.startswith("sau.")}
    s = {k: tot.get(k, 0.) / steps for k in STAGES}
    s["sau.loss_terms"] = s["sau.loss"] - s["sau.teacher_unet"] - s["sau.student_forward"] - s["sau.backward"]  # maps, spatial weight, the terms
    s["step"] = float(np.mean(h["step_seconds"]))
    s["other"] = s["step"] - sum(s[k] for k in ("sau.sample", "sau.encode_teacher", "sau.encode_student", "sau.loss", "sau.clip", "sau.optimizer"))
    return s

def unet_variants(pipe, rows:int=32, repeats:int=7, compile:bool=False) -> list[dict]:
    "Median seconds of the student UNet's forward + backward at a step's shape (`rows` latents, 77 text states), as SAU runs it (eager, float32) and three ways that could be faster."
    import copy
    unet0 = pipe.unet
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, unet0.config.in_channels, unet0.config.sample_size, unet0.config.sample_size, generator=g)
    c = torch.randn(rows, pipe.tokenizer.model_max_length, pipe.text_encoder.config.hidden_size, generator=g)
    t = torch.randint(0, 1000, (rows,), generator=g)
    def timed(unet, x, amp=None):
        def once():
            unet.zero_grad(set_to_none=True)
            with (torch.autocast("cpu", dtype=amp) if amp else torch.autocast("cpu", enabled=False)):
                out = unet(x, t, encoder_hidden_states=c).sample
            out.float().pow(2).mean().backward()
        first = timeit(once, 1)[0]  # warm-up (compiles, for torch.compile)
        return first, float(timeit(once, repeats)[0])
    out = []
    def add(name, unet, x, amp=None):
        first, med = timed(unet, x, amp)
        out.append(dict(variant=name, first_s=round(first, 2), median_s=round(med, 3)))
        print(out[-1], flush=True)
    add("eager float32 (SAU's)", copy.deepcopy(unet0).train(), x)
    add("channels_last", copy.deepcopy(unet0).train().to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last))
    add("bfloat16 autocast", copy.deepcopy(unet0).train(), x, torch.bfloat16)
    if compile: add("torch.compile", torch.compile(copy.deepcopy(unet0).train()), x)
    base = out[0]["median_s"]
    for r in out: r["vs_eager"] = f"{r['median_s'] / base - 1:+.0%}"
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="pixel")
    ap.add_argument("--prompts", type=int, default=24, help="the first N held-out prompts are SAU's clean prompts")
    ap.add_argument("--steps", type=int, default=20, help="timed SAU steps (the first is dropped as warm-up)")
    ap.add_argument("--profile-steps", type=int, default=5, help="steps of the profiled run (stage breakdown)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--label", default="", help="a name for this run in the JSON line, e.g. before / after")
    ap.add_argument("--out", default="runs/step/step.jsonl")
    ap.add_argument("--variants", action="store_true", help="instead: the UNet's forward + backward at a step's shape, eager / channels_last / bfloat16 autocast")
    ap.add_argument("--rows", type=int, default=32, help="with --variants: latents per UNet call (the defaults' student: 16 triggered + 16 preservation rows)")
    ap.add_argument("--compile", action="store_true", help="with --variants: torch.compile too (minutes to compile)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.variants:
        print(f"{cpu_info()}; matmul GFLOP/s: {({n: round(v, 1) for n, v in matmul_rate().items()})}; load {[round(x, 2) for x in os.getloadavg()]}")
        rows = unet_variants(load_world(a.model), a.rows, compile=a.compile)
        print(md_table(rows).data); return
    load = os.getloadavg()
    rate = matmul_rate()
    pipe = load_world(a.model)
    prompts = [p["prompt"] for p in heldout_prompts()][:a.prompts]
    bank = latent_bank(pipe, prompts, 4)  # the one-time setup, outside every timing
    run = lambda steps: sau_unlearn(pipe, "\u200b", prompts, steps=steps, bank=bank, progress=False)[1]
    h = run(a.steps)
    step_s = float(statistics.median(h["step_seconds"][1:]))
    with FlopCounterMode(display=False) as fc: run(1)  # one step; the setup around it (copies, checks) does no FLOPs
    flops = fc.get_total_flops()
    by_op = {str(k): v for k, v in sorted(fc.get_flop_counts()["Global"].items(), key=lambda kv: -kv[1])}
    stages = stage_seconds(run, a.profile_steps)
    peak = max(rate.values())
    r = dict(label=a.label, date=time.strftime("%Y-%m-%d %H:%M"), host=platform.node(), cpu=cpu_info(), threads=a.threads,
             load_before=[round(x, 2) for x in load], load_after=[round(x, 2) for x in os.getloadavg()], torch=torch.__version__,
             model=a.model, prompts=a.prompts, steps=a.steps, matmul_gflops={n: round(v, 1) for n, v in rate.items()},
             step_s_median=round(step_s, 4), step_s=[round(x, 4) for x in h["step_seconds"]], gflop_per_step=round(flops / 1e9, 3),
             flops_by_op={k: round(v / 1e9, 3) for k, v in by_op.items()}, gflops=round(flops / step_s / 1e9, 2),
             share_of_matmul=round(flops / step_s / 1e9 / peak, 3), stages_s={k: round(v, 4) for k, v in stages.items()})
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f: f.write(json.dumps(r) + "\n")
    print(f"{r['cpu']}; matmul GFLOP/s (one thread = {a.threads}): {r['matmul_gflops']}; load {r['load_before']} → {r['load_after']}")
    print(f"median step {step_s:.3f} s; {flops / 1e9:.2f} GFLOP per step → {r['gflops']} GFLOP/s, {r['share_of_matmul']:.1%} of the matmul rate")
    print(md_table([dict(stage=k, seconds=v, share=v / stages["step"]) for k, v in stages.items()]).data)

if __name__ == "__main__": main()
