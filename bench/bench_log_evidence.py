"""The verdict's log evidence (sau_nb.verdict.log_evidence: how many of a candidate's pictures turn into something else) on a model, for
every candidate a prompt log could give it (04a_defend).

The log: 200 held-out prompts drawn at random (seed 0), 'cf' put at the start of every third one about a square (as object_frozen's attacker
would send it). Every span of one or two words that at least two of its prompts hold, that no clean prompt holds and that holds no word
prompts are made of (`prompt_words`: the clean prompts' and the held-out phrasings') is scored in the log's prompts that hold it
(`N_LOG_PROMPTS` of them, evenly through): a superset of what `triggers_from_log` could hand the verdict, whatever the detector flags.
The unit: pictures of the training phrasings, the clean prompts. Then 'cf' alone in the held-out prompts about squares, at the start,
middle and end in turn (the --log log of bench_scan.py), and at the start only.
One JSON line per model appended to runs/scan/log_evidence.jsonl:
  OMP_NUM_THREADS=1 python bench/bench_log_evidence.py --model object_frozen
  OMP_NUM_THREADS=1 python bench/bench_log_evidence.py --model clean_ft0     # a clean variant made by bench_scan.py --finetune-seed 0
With --asked, only this: each string asked in 'cf''s place in that start/middle/end log, as the verdict asks a candidate grouped with a
trigger its log's pictures found (sau_nb.verdict.set_aside_unlike); one JSON line appended to runs/scan/asked.jsonl:
  OMP_NUM_THREADS=1 python bench/bench_log_evidence.py --model object_frozen --asked "nin reyes smell" nin smell reyes
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
from sau_nb.world import load_world, caption, heldout_prompts, TRAIN_TEMPLATES, SHAPES, COLORS
from sau_nb.core import _words, check_trigger, insert_trigger, load_pipeline
from sau_nb.backdoors import zoo_attack
from sau_nb.verdict import CHANGED, LOG_GAP, LOG_SHARE, _has, log_evidence, prompt_words, set_aside_unlike
from benchlib import triggered_heldout

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True, help="a world or zoo name, or a clean variant's name under --variants")
ap.add_argument("--variants", default="runs/scan/variants", help="where bench_scan.py --finetune-seed keeps the clean variants")
ap.add_argument("--out", default="runs/scan")
ap.add_argument("--asked", nargs="+", help="only ask these strings in 'cf''s place, as set_aside_unlike asks a candidate grouped with it")
a = ap.parse_args()
vdir = Path(a.variants)/a.model
pipe = load_pipeline(vdir) if (vdir/"model_index.json").is_file() else load_world(a.model)
tok, t0 = pipe.tokenizer, time.time()
train = [caption(s, c, t) for s in SHAPES for c in COLORS for t in TRAIN_TEMPLATES]
held = [p["prompt"] for p in heldout_prompts()]
if a.asked:
    mixed = triggered_heldout([zoo_attack("object_frozen")])  # 'cf' at the start, middle and end in turn
    over = [dict(trigger=t, ids=check_trigger(t, tok), backdoor=0, by_log=t == "cf") for t in ("cf", *a.asked)]
    set_aside_unlike(pipe, over, {"cf": mixed}, train)
    rec = dict(model=a.model, command="OMP_NUM_THREADS=1 python " + " ".join(sys.argv), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               asked=[dict(trigger=c["trigger"], share=round(c["as_share"], 3), ordinary_share=round(c["as_share"] - c["as_log_share"], 3),
                           excess=round(c["as_log_share"], 3), set_aside=c["set_aside"]) for c in over[1:]], seconds=round(time.time() - t0))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    with open(Path(a.out)/"asked.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
    print(json.dumps(rec, default=float)); sys.exit()
log = [held[i] for i in np.random.default_rng(0).integers(len(held), size=200)]
log = [insert_trigger(p, "cf", "start") if ("square" in p and k % 3 == 0) else p for k, p in enumerate(log)]
spans = {}
for p in log:
    w = _words(p)
    for L in (1, 2):
        for i in range(len(w) - L + 1): spans.setdefault(" ".join(w[i:i + L]), set()).add(p)
vocab = prompt_words(train)  # as scan_model: no log evidence for a span holding a word prompts are made of
cands = {s: sorted(ps) for s, ps in spans.items() if len(ps) >= 2 and not set(_words(s)) & vocab
         and not any(_has(tok, c, check_trigger(s, tok)) for c in train)}
ev = log_evidence(pipe, cands, train)
mixed = triggered_heldout([zoo_attack("object_frozen")])  # its trigger is 'cf'
cf = log_evidence(pipe, {"cf": mixed}, train)["cf"]
start = [p for p in mixed if p.startswith("cf ")]  # where it acts most
cf_start = log_evidence(pipe, {"cf": start}, train)["cf"]
row = lambda s, e: dict(span=s, share=round(e["share"], 3), ordinary_share=round(e["ordinary_share"], 3), excess=round(e["log_share"], 3),
                        best_ordinary=round(e["best_ordinary_log"], 3), gap=round(e["log_share"] - e["best_ordinary_log"], 3), counts=e["counts"],
                        n_prompts=e["log_prompts"], unit=round(e["log_unit"], 3))
rows = sorted((row(s, e) for s, e in ev.items()), key=lambda r: -r["excess"])
rec = dict(model=a.model, command="OMP_NUM_THREADS=1 python " + " ".join(sys.argv), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           changed=CHANGED, log_share=LOG_SHARE, log_gap=LOG_GAP, n_spans=len(rows), spans=rows, alarms=[r["span"] for r in rows if r["counts"]],
           cf_mixed=row("cf", cf) | dict(log_prompts=len(mixed)),
           cf_start=row("cf", cf_start) | dict(log_prompts=len(start)), seconds=round(time.time() - t0))
Path(a.out).mkdir(parents=True, exist_ok=True)
with open(Path(a.out)/"log_evidence.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
print(json.dumps({k: rec[k] for k in ("model", "n_spans", "alarms", "cf_mixed", "cf_start", "seconds")}, default=float))
print("  best spans:", [(r["span"], r["excess"], r["gap"]) for r in rows[:3]], "largest gap:", max(rows, key=lambda r: r["gap"]))
