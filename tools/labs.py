"""`make labs`: write the student copies of the chapters into labs/ (nbgrader's ClearSolutions blanks each solution region, the
chapters' own code that an exercise re-derives becomes an import) and the checks' answers (sau_nb/weights/exercise_answers.safetensors),
recorded from the package's own implementations. `python tools/labs.py --check` writes nothing and fails if either is out of date."""
import argparse, sys
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from sau_nb import labs as L
from sau_nb.student_copies import make_labs

ROOT = Path(__file__).resolve().parents[1]

def references() -> dict:
    "Each check's reference answer: the package's implementation, or the formula the chapter states. Kept here, out of the package."
    from sau_nb.core import POSITIONS, insert_trigger, trigger_positions
    from sau_nb.backdoors import PixelAttack
    from sau_nb.attention import region_share
    from sau_nb.detect import prf
    from sau_nb.loss import _spatial_weight
    from sau_nb.clip_judge import kid
    sched = L._sd_scheduler()
    return dict(
        check_insert=insert_trigger,
        check_positions=lambda tok, p, t, pos: trigger_positions(tok, p, t, pos)[1],
        check_add_noise=lambda x0, eps, abar, t: sched.add_noise(x0, eps, t),
        check_guided=lambda u, c, w: u + w * (c - u),
        check_paste_patch=lambda im, patch, y, x: PixelAttack(patch=patch, y=y, x=x).apply(im),
        check_poison_loss=lambda pp, tg, pc, tc, lam: lam * F.mse_loss(pp, tg) + (1 - lam) * F.mse_loss(pc, tc),
        check_attention_probs=lambda q, k: (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1),
        check_token_maps=lambda p, h, w: p.mean(1).transpose(1, 2).reshape(p.shape[0], p.shape[-1], h, w),
        check_region_share=region_share,
        check_prf=prf,
        check_limit=lambda v, a, n, high: float(np.quantile(v, 1 - a / n if high else a / n)),
        check_spatial_weight=_spatial_weight,
        check_removal=lambda s: 1 - float(np.mean([s[f"asr_{p}"] for p in POSITIONS])),
        check_attention_norm=lambda p, pos: p[..., pos].norm(),
        check_kid=lambda a, b: kid(a, b, n_subsets=1, subset_size=len(a))[0],
        check_zero_shot=lambda i, t: (F.normalize(i, dim=-1) @ F.normalize(t, dim=-1).T).argmax(-1),
    )

def record() -> dict:
    "Every check run once with its reference as the answer, recording what the checks compare with."
    refs = references()
    def run():
        for name, ref in refs.items(): getattr(L, name)(ref)
    return L.record_answers(run)

def answers_stale(answers:dict) -> bool:
    "Whether the committed answers file differs from `answers`."
    path = L._answers_path()
    return not path.exists() or not L.same_answers(L._stored(), answers)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="only check that labs/ and the answers are up to date with nbs/ and the package")
    args = ap.parse_args(argv)
    answers = record()
    stale_answers = answers_stale(answers)
    if stale_answers and not args.check: L._answers_path().write_bytes(L.answers_bytes(answers))
    stale = make_labs(ROOT, check=args.check)
    names = [str(f.relative_to(ROOT)) for f in stale] + ([str(L._answers_path().relative_to(ROOT))] if stale_answers else [])
    if args.check and names:
        sys.exit("labs/ or the exercises' answers are out of date (run `make labs` and commit the result):\n  " + "\n  ".join(names))
    print(("up to date" if args.check else f"wrote {len(names)} file(s)") + (": " + ", ".join(names) if names else ""))

if __name__ == "__main__": main()
