"""Benchmark cross-attention capture and one SAU step on the tiny world, on this machine.

Run by hand (never in the tests):  .venv/bin/python bench/bench_attention.py [--repeats 5]
Prints a markdown table: generation of a batch of 8 with diffusers' default processor and under `capture`
(maps of every layer and step kept, head-averaged), and the time of SAU steps for each parameter subset; beside each row,
the process's peak resident memory once that row has run (rows run in order of expected memory, so each increase is
what that row needed beyond the ones before it). Docs that quote capture or SAU timings must quote this script's output with its command."""
import argparse, platform, resource, time
import torch
from benchlib import timeit
from sau_nb.world import load_world
from sau_nb.core import SAMPLING, generate
from sau_nb.attention import capture
from sau_nb.unlearn import sau_unlearn

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--repeats", type=int, default=5); a = ap.parse_args()
    pipe = load_world()
    prompts = ["a red circle", "a blue square", "a green triangle", "a yellow circle"]
    run = lambda: generate(pipe, prompts, seeds=range(2))
    def captured():
        with capture(pipe, half="cond") as maps: run()
        return maps
    run(); captured()  # warm-up
    rows = []
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # MB (Linux reports kB)
    m, b = timeit(run, a.repeats); rows.append(("generate 8 images, default processor", m, b, peak()))
    m, b = timeit(captured, a.repeats); rows.append(("generate 8 images under capture (all layers and steps)", m, b, peak()))
    maps = captured()
    kept = sum(t.numel() * t.element_size() for l in maps.layers for t in maps.maps[l])
    for params in ("attn2_kv", "lora", "unet"):
        f = lambda: sau_unlearn(pipe, "ȴ", prompts, steps=10, batch_size=16, n_seeds=2, params=params, progress=False)
        m, b = timeit(f, max(1, a.repeats // 2))
        rows.append((f"sau_unlearn, params={params}: 10 steps of batch 16 (incl. 8 generations for x_0)", m, b, peak()))
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"maps kept by one capture of 8 images × {SAMPLING['num_inference_steps']} steps: {kept/1e6:.2f} MB")
    print("| what | median s | best s | peak RSS so far, MB |\n|---|---|---|---|")
    for what, m, b, r in rows: print(f"| {what} | {m:.2f} | {b:.2f} | {r:.0f} |")

if __name__ == "__main__": main()
