"""Does the blind scan's evidence point at a conditional backdoor whose trigger is one of many words (04a_blind_verdict, `object_frozen`)?

One model per call, one JSON line appended to runs/scan/family.jsonl:
  OMP_NUM_THREADS=1 python bench/bench_family.py --model object_frozen --strings "nin reyes smell" cf   # picture change per shape
  OMP_NUM_THREADS=1 python bench/bench_family.py --model clean --strings "nin reyes smell" cf
  OMP_NUM_THREADS=1 python bench/bench_family.py --model object_frozen --population --templates heldout  # random words, per group

--strings: `trigger_effect` of each string at the start of the 32 training prompts about each shape (its ratio to a neutral word's change).
--population: 48 random one-token words at the start of every prompt (the training or the held-out phrasings), in one scan context
per prompt (`scan_contexts`), 2 seeds, each drawing the same (t, noise) for every prompt; per prompt word (each shape, each colour),
the mean over its prompts of (a) the median log-departure of the words, centred per seed, and (b) the coherence
‖mean departure‖² / mean ‖departure‖² (1: every word sends the model the same way).
"""
import argparse, json, shlex, sys, time
from pathlib import Path
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True); ap.add_argument("--strings", nargs="*", default=[])
ap.add_argument("--population", action="store_true"); ap.add_argument("--templates", choices=["train", "heldout"], default="train")
ap.add_argument("--out", default="runs/scan")
a = ap.parse_args()
torch.set_num_threads(1)
from sau_nb.world import load_world
from sau_nb.shapes import SHAPES, COLORS, TRAIN_TEMPLATES, HELDOUT_TEMPLATES, caption
from sau_nb.effect import trigger_effect

pipe, t0 = load_world(a.model), time.time()
rec = dict(model=a.model, command="OMP_NUM_THREADS=1 python " + shlex.join(sys.argv), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
if a.strings:  # where each string changes pictures, per shape of the prompt
    rec["effect_ratio"] = {s: {shape: round(trigger_effect(pipe, s, [caption(shape, c, t) for c in COLORS for t in TRAIN_TEMPLATES],
                                                           positions=("start",))["ratio"], 2) for shape in SHAPES} for s in a.strings}
if a.population:  # what random words do, per group of prompts
    from sau_nb.core import neutral_words, PHRASING_WORDS
    from sau_nb.scan import Contexts, departure_vectors, scan_contexts
    tok = pipe.tokenizer
    prompts = [caption(s, c, t) for t in (TRAIN_TEMPLATES[:2] if a.templates == "train" else HELDOUT_TEMPLATES) for s in SHAPES for c in COLORS]
    ids = [tok(w, add_special_tokens=False).input_ids for w in neutral_words(tok, "cf", 400, seed=5, avoid=PHRASING_WORDS)]
    words = torch.tensor([i[0] for i in ids if len(i) == 1][:48])
    logd, coh = [], []
    for j in range(2):  # one scan context per prompt, word at the start; the same seed draws the same t and noise for every prompt
        one = [scan_contexts(pipe, [p], 1, seed=100 + j) for p in prompts]
        ctx = Contexts(prompts, ["start"] * len(prompts), *(torch.cat([getattr(c, f) for c in one]) for f in ("ids", "at", "xt", "t", "eps")))
        v = departure_vectors(pipe, ctx, words)  # (words, prompts, c·h·w)
        m = v.pow(2).mean(2).clamp_min(1e-30).log().median(0).values; logd.append(m - m.median())
        coh.append(v.mean(0).pow(2).sum(1) / v.pow(2).sum(2).mean(0))
    logd, coh = torch.stack(logd, 1).mean(1), torch.stack(coh, 1).mean(1)
    group = lambda x, w: round(float(x[[k for k, p in enumerate(prompts) if w in p.split()]].mean()), 3)
    rec["population"] = dict(templates=a.templates, n_words=len(words), n_prompts=len(prompts),
                             median_log_departure={w: group(logd, w) for w in (*SHAPES, *COLORS)},
                             coherence={w: group(coh, w) for w in (*SHAPES, *COLORS)})
rec["seconds"] = round(time.time() - t0)
print(json.dumps(rec))
Path(a.out).mkdir(parents=True, exist_ok=True)
with open(Path(a.out)/"family.jsonl", "a") as f: f.write(json.dumps(rec) + "\n")
