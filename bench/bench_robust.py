"""Does the repair hold (issue 25)? The backdoor's ASR after clean fine-tuning of each defended zoo model, and the LoRA-delivered backdoor.

Run by hand (never in the tests), one model per process so that two share the 2 cores:
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_robust.py --models pixel --defenses none SAU SKD UCE --out runs/robust   # re-learning
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_robust.py --models pixel --defenses SAU --params lora --out runs/robust  # a LoRA fine-tune
  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_robust.py --table runs/robust                                            # the table of every saved run

Each defense runs with its defaults on the benchmarks' training prompts (every shape and colour in 3 training phrasings,
as 04 and the race use); then `relearning` fine-tunes the defended model on clean data (`finetune`: the world's denoising loss,
freshly rendered shapes, batch 16, the UNet at 1e-4 or rank-4 LoRA adapters at 1e-3) and measures, after 0, 100, 300 and
1,000 steps of one run, the ASR with the trigger at the start of the 36 held-out prompts × `--seeds` seeds (the attack's
eligible prompts), false triggering and clean accuracy (36 × seeds clean generations)."""
import argparse, json, platform, time
from pathlib import Path
import torch
from benchlib import training_prompts
from sau_nb.world import load_world
from sau_nb.backdoors import zoo_attack
from sau_nb.core import md_table
from sau_nb.unlearn import sau_unlearn
from sau_nb.baselines import skd, uce
from sau_nb.robust import relearning

DEFENSES = {"none": None, "SAU": sau_unlearn, "SKD": skd, "UCE": uce}

def run(model, defense, params, steps, seeds):
    pipe, atk = load_world(model), zoo_attack(model)
    prompts = [p["prompt"] for p in training_prompts()]
    t = time.time(); fn = DEFENSES[defense]
    defended = pipe if fn is None else fn(pipe, atk.trigger, prompts, **({} if fn is uce else dict(progress=False)))[0]
    t_def = time.time() - t; t = time.time()
    rows = relearning(defended, atk, steps=steps, params=params, seeds=range(seeds))
    out = dict(model=model, defense=defense, params=params, seeds=seeds, defense_s=round(t_def, 1), finetune_s=round(time.time() - t, 1),
               rows=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}), flush=True)
    for r in rows: print(r["step"], "ASR", round(r["asr_start"], 3), "false", round(r["false_trigger"], 3), "clean", round(r["clean_acc"], 3), flush=True)
    return out

def table(folder):
    runs = [json.loads(f.read_text()) for f in sorted(Path(folder).glob("*.json"))]
    order = {m: i for i, m in enumerate(["pixel", "style", "object", "text_encoder", "pixel_lora"])}
    runs.sort(key=lambda r: (order.get(r["model"], 9), r["params"], list(DEFENSES).index(r["defense"])))
    rows = []
    for r in runs:
        by = {x["step"]: x for x in r["rows"]}
        rows.append({"model": r["model"], "defense": r["defense"], "fine-tune": r["params"],
                     **{f"ASR after {s}": f"{by[s]['asr_start']:.1%}" for s in sorted(by)},
                     "clean before → after": f"{by[0]['clean_acc']:.1%} → {by[max(by)]['clean_acc']:.1%}",
                     "generations": f"{by[0]['n']} + {by[0]['n_clean']} per column"})
    print(md_table(rows).data)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["pixel"]); ap.add_argument("--defenses", nargs="+", default=list(DEFENSES), choices=list(DEFENSES))
    ap.add_argument("--params", default="unet", choices=["unet", "lora"]); ap.add_argument("--steps", nargs="+", type=int, default=[100, 300, 1000])
    ap.add_argument("--seeds", type=int, default=4); ap.add_argument("--out", default="runs/robust"); ap.add_argument("--table", default=None)
    a = ap.parse_args()
    if a.table: return table(a.table)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}", flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for m in a.models:
        for d in a.defenses:
            out = run(m, d, a.params, a.steps, a.seeds)
            (Path(a.out)/f"{m}-{d}-{a.params}.json").write_text(json.dumps(out, indent=1))

if __name__ == "__main__": main()
