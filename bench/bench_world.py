"""Benchmark the tiny world on this machine: load time, generation time, training-step times.

Run by hand (never in the tests):  .venv/bin/python bench/bench_world.py [--repeats 3]
Prints a markdown table; the numbers quoted in nbs/00_world.ipynb come from this script."""
import argparse, json, platform, time
import numpy as np, torch
from benchlib import timeit
from sau_nb.world import WORLD_CONFIG, load_world, make_shapes, tiny_pipeline, train_denoiser, train_vae
from sau_nb.core import SAMPLING, generate

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--repeats", type=int, default=3); a = ap.parse_args()
    rows = []
    med, best = timeit(lambda: load_world(), a.repeats); rows.append(("load_world()", med, best))
    pipe = load_world()
    prompts = ["a red circle", "a blue square", "a green triangle", "a yellow circle"]
    generate(pipe, prompts[:1], seeds=[0])  # warm-up
    med, best = timeit(lambda: generate(pipe, prompts, seeds=range(8)), a.repeats)
    rows.append((f"generate 32 images ({SAMPLING['num_inference_steps']} DDIM steps, CFG {SAMPLING['guidance_scale']})", med, best))
    fresh = tiny_pipeline(0); data = make_shapes(1024, seed=0)
    med, best = timeit(lambda: train_vae(fresh.vae, data.images, steps=10, progress=False), a.repeats)
    rows.append(("VAE training, 10 steps of batch 64", med, best))
    med, best = timeit(lambda: train_denoiser(fresh, data, steps=10, progress=False), a.repeats)
    rows.append(("text encoder + UNet training, 10 steps of batch 64", med, best))
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| what | median s | best s |\n|---|---|---|")
    for what, m, b in rows: print(f"| {what} | {m:.2f} | {b:.2f} |")

if __name__ == "__main__": main()
