"""Detection and localization on the shipped zoo, measured.

Run by hand (never in the tests):  .venv/bin/python bench/bench_detect.py [--models pixel ...] [--prompts 12] [--perturb 4] [--localize 6]
Calibrates each detector on 48 clean training-phrasing prompts, scores held-out prompts with and without the trigger,
prints precision / recall / F1 per score and zoo model, then find_trigger's accuracy on flagged triggered prompts."""
import argparse, time
import numpy as np
from sau_nb.world import COLORS, SHAPES, TRAIN_TEMPLATES, caption, heldout_prompts, load_world
from sau_nb.core import md_table
from sau_nb.backdoors import shipped_zoo, zoo_attack
from sau_nb.core import trigger_positions
from sau_nb.detect import Detector, find_trigger, prf

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=12); ap.add_argument("--perturb", type=int, default=4)
    ap.add_argument("--localize", type=int, default=6)
    ap.add_argument("--models", nargs="*", default=None, help="zoo models (default: every shipped one)"); a = ap.parse_args()
    calib = [caption(s, c, t) for t in TRAIN_TEMPLATES for s in SHAPES for c in COLORS][:48]
    rows, loc = [], []
    for name in a.models or shipped_zoo():
        t0 = time.time()
        pipe, atk = load_world(name), zoo_attack(name)
        ps = [p["prompt"] for p in heldout_prompts() if atk.eligible(p)][:a.prompts]
        trig = [trigger_positions(pipe.tokenizer, p, atk.trigger)[0] for p in ps]
        det = Detector(pipe, n_perturb=a.perturb).calibrate(calib)
        sc = det.score(trig + ps); truth = np.array([True] * len(trig) + [False] * len(ps))
        fl = det.flags(sc)
        for s, f in fl.items(): rows.append(dict(model=name, score=s, **prf(f, truth)))
        both = np.any(np.stack(list(fl.values())), 0)
        rows.append(dict(model=name, score="either", **prf(both, truth), seconds=round(time.time() - t0)))
        print(md_table(rows[-len(fl) - 1:]).data, flush=True)
        cand = [p for p, f in zip(trig, both[:len(trig)]) if f][:a.localize]
        found = [find_trigger(det, p)["trigger"] for p in cand]
        loc.append(dict(model=name, trigger=repr(atk.trigger), tried=len(cand), localized=sum(f == atk.trigger for f in found),
                        found=", ".join(repr(f) for f in found)))
        print(md_table(loc[-1:]).data, flush=True)
    print(md_table(rows).data); print(md_table(loc).data)

if __name__ == "__main__": main()
