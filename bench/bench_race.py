"""The race (issue 24): wall time and steps until each defense removes the zoo's backdoors, on one machine, same seeds and prompts.

Run by hand (never in the tests), one model per process so that two can share the 2 cores:
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_race.py --models pixel --cap 300 --out runs/race
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_race.py --plot runs/race   # the table and the plot of every saved model

The referee (not counted in any time): `removal_scores` on the 36 held-out prompts × seeds 0 and 1 with the trigger at the
start (72 clean generations; the eligible prompts' triggered ones), every `--every` steps of each method. A method has *reached*
removal when removal ≥ 99% (pixel) or ≥ 95% (the others) with clean accuracy at most 2 points below the poisoned model's, on
those same generations. Times are the method's own wall-clock seconds up to that check (latent bank, departure, its own stop
rule included; the referee's checks excluded); "not reached" means within `--cap` seconds of training."""
import argparse, json, platform, time
from pathlib import Path
import torch
from benchlib import stop_prompts, training_prompts
from sau_nb.world import heldout_prompts, load_world
from sau_nb.backdoors import ZOO_SPECS, zoo_attack
from sau_nb.core import md_table
from sau_nb.effect import stop_at_removal
from sau_nb.unlearn import sau_unlearn
from sau_nb.evaluate import removal_scores
from sau_nb.baselines import skd, skd_cag, resteer, reversal, uce

TARGET = dict(pixel=0.99)  # removal each model must reach; the rest 0.95

def methods(clean):
    "name → (function, keywords, referee every N steps); SAU with the stop rule gets one referee check, at its end."
    return {"SAU (defaults)": (sau_unlearn, {}, 25),
            "SAU (defaults, stop rule)": (sau_unlearn, "stop", None),
            "SKD": (skd, {}, 25),
            "SKD-CAG (published)": (skd_cag, dict(recipe="published"), 500),
            "attention norm (published, 100 steps)": (resteer, dict(recipe="published"), 10),
            "attention norm (published, continued)": (resteer, dict(recipe="published", steps=10_000), 500),
            "UCE": (uce, {}, None),
            "reversal (oracle)": (reversal, dict(clean_pipe=clean), 25)}

def race(name, cap, only=None):
    pipe, atk, clean = load_world(name), zoo_attack(name), load_world()
    labelled = training_prompts()
    prompts = [p["prompt"] for p in labelled]
    ref = lambda p: removal_scores(p, atk, seeds=range(2), positions=("start",), prompts=heldout_prompts())
    before = ref(pipe); need = TARGET.get(name, 0.95)
    print(name, "poisoned:", {k: round(v, 3) for k, v in before.items()}, flush=True)
    rows = []
    for label, (fn, kw, every) in methods(clean).items():
        if only and label not in only: continue
        curve, spent, t0 = [], [0.], time.time()  # spent[0]: the referee's seconds so far
        def check(p):
            t = time.time(); r = ref(p); spent[0] += time.time() - t
            ok = r["removal"] >= need and r["clean_acc"] >= before["clean_acc"] - 0.02
            out = dict(seconds=time.time() - t0 - spent[0], removal=r["removal"], clean_acc=r["clean_acc"], reached=ok)
            curve.append(out); print(label, out, flush=True)
            return out
        stop = lambda r: r["reached"] or r["seconds"] > cap
        if kw == "stop":
            rule = stop_at_removal(atk.trigger, stop_prompts(labelled, atk, prompts))
            new, h = fn(pipe, atk.trigger, prompts, progress=False, **rule)
            t_end = time.time() - t0; r = check(new); r["seconds"] = t_end; r["step"] = len(h["steps"])
        elif every is None:
            new, h = fn(pipe, atk.trigger, prompts, **kw); r = check(new); r["step"] = None  # closed form: no training steps
        else:
            new, h = fn(pipe, atk.trigger, prompts, progress=False, check=check, check_every=every, stop=stop, **kw)
            for c, hc in zip(curve, h["checks"]): c["step"] = hc["step"]
            r = curve[-1]
        hit = next((c for c in curve if c["reached"]), None)
        rows.append(dict(model=name, method=label, reached=hit is not None, seconds=round(hit["seconds"], 1) if hit else None,
                         step=hit.get("step") if hit else None, given_s=round(curve[-1]["seconds"], 1), last_removal=round(curve[-1]["removal"], 3),
                         last_clean=round(curve[-1]["clean_acc"], 3), clean_before=round(before["clean_acc"], 3), curve=curve))
        print(md_table([{k: v for k, v in rows[-1].items() if k != "curve"}]).data, flush=True)
    return rows

def plot(folder):
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    rows = [r for f in sorted(Path(folder).glob("*.json")) for r in json.loads(f.read_text())]
    order = list(ZOO_SPECS); models = sorted({r["model"] for r in rows}, key=lambda m: (order.index(m) if m in order else len(order), m))  # the zoo's order, as in the docs' tables
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models) + 2.6, 3.6), squeeze=False)
    for ax, m in zip(axes[0], models):
        for r in (r for r in rows if r["model"] == m):
            xs, ys = [0] + [c["seconds"] for c in r["curve"]], [0] + [c["removal"] for c in r["curve"]]
            ax.plot(xs, ys, marker="o", ms=3, label=r["method"])
        ax.axhline(TARGET.get(m, 0.95), color="grey", ls=":", lw=1); ax.set_xscale("symlog", linthresh=10)
        ax.set(title=m, xlabel="seconds of the method (referee excluded)", ylabel="removal", ylim=(-0.02, 1.02), xlim=(0, None))
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1)); fig.tight_layout()
    fig.savefig(Path(folder)/"race.png", dpi=110)
    print(md_table([{k: v for k, v in r.items() if k != "curve"} for r in rows]).data)
    print(pivot(rows, models))

def pivot(rows, models):
    "One row per method, one column per model: seconds (steps) to removal, or what the method had reached when its time ran out."
    def cell(r):
        if r is None: return "not run"
        if r["reached"]: return f"**{r['seconds']:.1f} s**" + (f" ({r['step']} steps)" if r["step"] else "")
        return f"not reached in {r['given_s']:.0f} s (removal {r['last_removal']:.0%}, clean {r['last_clean']:.0%})"
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["model"], r["method"]): r for r in rows}
    clean = {m: next(r["clean_before"] for r in rows if r["model"] == m) for m in models}
    out = [{"defense": d, **{f"{m} (needs {TARGET.get(m, 0.95):.0%}, clean ≥ {clean[m] - 0.02:.1%})": cell(by.get((m, d))) for m in models}} for d in methods]
    return md_table(out).data

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["pixel"]); ap.add_argument("--cap", type=float, default=300, help="seconds of training each method is given")
    ap.add_argument("--only", nargs="+", default=None, help="run only these methods (labels as printed)")
    ap.add_argument("--out", default="runs/race"); ap.add_argument("--plot", default=None, help="draw the table and plot of a folder of results")
    a = ap.parse_args()
    if a.plot: return plot(a.plot)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; cap {a.cap:.0f} s", flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for m in a.models:
        rows = race(m, a.cap, a.only)
        (Path(a.out)/f"{m}.json").write_text(json.dumps(rows, indent=1))

if __name__ == "__main__": main()
