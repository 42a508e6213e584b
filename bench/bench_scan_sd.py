"""The blind defense's cost per stage on Stable Diffusion v1.5's architecture (random weights, no download), and its projection to a T4 and an H100.

Three measurements, one table:
  1. rows: what `defend` runs, each part counted on the SD-shaped small pipeline (random weights, 64 px) under
     `sau_nb.sd.count_rows`, which counts the UNet, text-encoder and VAE-decoder rows of every forward pass by the stage that
     ran it: `scan_model` at its defaults on a seeded sample of `--tokens` ids and the clean prompts' own (the first stage's rows
     scaled to the vocabulary), the old one-stage scan (`staged=False`: every token exactly in 3 contexts) on a quarter of them
     (its exact stage scaled likewise), `picture_effects` of `--candidates` candidates assumed over the threshold (as `scan_model`
     draws them: the clean pictures once), `sau_unlearn` for `--sau-steps` steps at batch 1 (scaled to `--t4-sau-steps`),
     `clean_drift`. `defend` = scan + the candidates' pictures + SAU + re-scan (no pictures) + clean drift, as sau_nb.defend
     composes them. Apart from it, the conditional cost of `defend`'s picture check of `--check-new` strings the re-scan raises,
     at its worst (every one drawn on the repaired model and, changing the pictures more than an ordinary word's, on the input).
  2. FLOPs of one row at SD v1.5's sizes by `torch.utils.flop_counter.FlopCounterMode`: UNet, text encoder and VAE decoder on
     the meta device (`sau_nb.sd.row_flops`, shapes only), the first stage's attention (`attention_departure` less its text
     encoder) on this CPU.
  3. tokens per second on this CPU at `--time-px` px (float32, the threads OMP_NUM_THREADS allows) of the first stage
     (`attention_departure`, one context) and of the exact departure (`token_departure`, 3 contexts), on contexts with random
     latents (the cost does not depend on their values).
The projection divides FLOPs by a share of each GPU's float16 peak taken from published timings (DESIGN §7): inference from
SD-1.5 on a T4 at ≈ 7 s per 50-step image (classifier-free guidance: 100 UNet rows, one VAE decode), training from a full-UNet
fp16 step with gradient checkpointing and 8-bit Adam at 0.93 it/s (512 px, batch 1). The H100 is assumed to reach the same
shares of its peak (no published figure at hand).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scan_sd.py --json bench_scan_sd.json --md bench_scan_sd.md

Measured 2026-12-08 on this project's 2-core CPU (an Intel Xeon with AMX), one thread, alone (166 s); results in nbs/07 and nbs/11.
"""
from __future__ import annotations
import argparse, json, platform, sys, time, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import cpu_info  # noqa: E402

T4_IMAGE_S, T4_TRAIN_IT_S = 7., 0.93  # published: SD-1.5 fp16 on a T4, 50 steps; a full-UNet fp16 training step (DESIGN §7)
STEPS_50 = 50


CANDIDATES = ("\u200b", "ȴ", "cf", "ꓳ")  # strings drawn as candidates (their pictures cost the same whatever they are)


def small_rows(tokens: int, sau_steps: int, candidates: int = 2, check_new: int = 2, latent: int = 8, seed: int = 0) -> dict:
    "Rows per stage of what `defend` runs, each part counted on the small pipeline: the scan (staged and one-stage), the candidates' pictures, SAU, the clean drift, the re-scan's picture check."
    import numpy as np, torch
    from sau_nb.sd import sd_pipeline, count_rows, SD_PROMPTS
    from sau_nb.scan import domain_tokens
    from sau_nb.verdict import scan_model
    from sau_nb.defend import clean_drift
    from sau_nb.verdict import picture_effects
    from sau_nb.unlearn import sau_unlearn
    pipe = sd_pipeline("small", seed=1)
    pipe.unet.register_to_config(sample_size=latent)  # rows do not depend on the latent size: a small one makes the count quick
    special = set(pipe.tokenizer.all_special_ids)
    vocab = [i for i in range(len(pipe.tokenizer)) if i not in special]
    dom = domain_tokens(pipe.tokenizer, SD_PROMPTS)  # scored exactly whenever searched: in the sample, as in the vocabulary
    ids = list(dict.fromkeys(dom + np.random.default_rng(seed).choice(vocab, tokens, replace=False).tolist()))
    out = dict(vocab=len(vocab), tokens=len(ids), sau_steps=sau_steps, latent=latent, seconds={})
    parts = dict(  # defend = scan (effect on each candidate over the threshold) + SAU + re-scan (effect=False) + clean drift
        staged=lambda: scan_model(pipe, SD_PROMPTS, tokens=ids, threshold=float("inf"), effect=False, seed=seed, progress=False),
        one_stage=lambda: scan_model(pipe, SD_PROMPTS, tokens=ids[:len(ids) // 4], threshold=float("inf"), effect=False, staged=False,
                                     seed=seed, progress=False),
        effect=lambda: picture_effects(pipe, [dict(trigger=t) for t in CANDIDATES[:candidates]], SD_PROMPTS),  # as scan_model calls it
        # defend's check of the re-scan's new strings at its worst: each drawn on the repaired model, then on the input model
        check=lambda: [picture_effects(pipe, [dict(trigger=t) for t in CANDIDATES[:check_new]], SD_PROMPTS) for _ in ("repaired", "input")],
        sau=lambda: sau_unlearn(pipe, "\u200b", SD_PROMPTS, steps=sau_steps, batch_size=1, memory="lean", n_seeds=2, seed=seed, progress=False),
        drift=lambda: clean_drift(pipe, pipe, SD_PROMPTS))
    for name, fn in parts.items():
        with warnings.catch_warnings(), count_rows(pipe) as rc:
            warnings.simplefilter("ignore")
            t0 = time.time(); fn(); out["seconds"][name] = round(time.time() - t0, 1)
        out[name] = rc.table()
    out["one_stage_tokens"], out["candidates"], out["check_new"] = len(ids) // 4, candidates, check_new
    return out


def meta_flops(px_list, lengths) -> dict:
    "`row_flops` of SD v1.5 on the meta device (shapes only) at each px: one forward row of the UNet, the VAE decoder, the text encoder at each length."
    from sau_nb.sd import sd_pipeline, row_flops
    p = sd_pipeline("sd15", device="meta")
    return {px: row_flops(p, px, lengths) for px in px_list}


def random_contexts(pipe, prompts, px: int, seed: int = 0):
    "`Contexts` with the candidate after the start token, random latents and SD's mid timestep: what the scan's cost depends on, not its findings."
    import torch
    from sau_nb.core import _pad_ids
    from sau_nb.scan import Contexts
    g, h = torch.Generator().manual_seed(seed), px // 8
    K = len(prompts)
    xt, eps = (torch.randn(K, 4, h, h, generator=g, dtype=pipe.unet.dtype) for _ in range(2))
    return Contexts(list(prompts), ["start"] * K, _pad_ids(pipe.tokenizer, list(prompts)), torch.ones(K, dtype=torch.long), xt,
                    torch.full((K,), 700), eps.float())


def cpu_stage(px_list, first_tokens: int, exact_tokens: int, time_px: int) -> dict:
    "On SD v1.5 (float32, this CPU): the first stage's attention FLOPs per token at each px, and tokens/s of both stages at `time_px`."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from sau_nb.sd import sd_pipeline, SD_PROMPTS
    from sau_nb.scan import cross_queries, attention_departure, token_departure
    t0 = time.time(); pipe = sd_pipeline("sd15", device="cpu", dtype=torch.float32); build = time.time() - t0
    ids = torch.arange(1000, 1000 + max(first_tokens, exact_tokens))
    out = dict(build_s=round(build, 1), first={}, exact={})
    for px in px_list:
        ctx = random_contexts(pipe, SD_PROMPTS[:3 if px == time_px else 1], px)  # the scan's 3 contexts where timed, else one (FLOPs per token)
        t0 = time.time(); cq = cross_queries(pipe, ctx); cq_s = time.time() - t0
        with FlopCounterMode(display=False) as fc: attention_departure(pipe, ctx, cq, ids[:4], batch_size=4)
        with torch.no_grad(), FlopCounterMode(display=False) as fct: pipe.text_encoder(torch.zeros(4, cq.n_text, dtype=torch.long))
        te = fct.get_total_flops() / 4
        row = dict(flops_per_token=fc.get_total_flops() / 4, text_encoder_flops=te, attention_flops=fc.get_total_flops() / 4 - te,
                   n_text=cq.n_text, cross_queries_s=round(cq_s, 1))
        if px == time_px:
            t0 = time.time(); attention_departure(pipe, ctx, cq, ids[:first_tokens], batch_size=first_tokens); s = time.time() - t0
            row.update(tokens=first_tokens, seconds=round(s, 2), tokens_per_s=round(first_tokens / s, 2))
            t0 = time.time(); token_departure(pipe, ctx, ids[:exact_tokens], batch_size=exact_tokens); s = time.time() - t0
            out["exact"] = dict(px=px, tokens=exact_tokens, contexts=len(ctx), seconds=round(s, 2), tokens_per_s=round(exact_tokens / s, 3),
                                unet_rows_per_s=round(exact_tokens * len(ctx) / s, 3))
        out["first"][px] = row
    return out


def scaled(table: list[dict], stage: str, factor: float, sau_factor: float) -> list[dict]:
    "The measured rows with `stage`'s scaled by `factor` (a token sample to the vocabulary) and SAU's by `sau_factor` (its steps to the setting's)."
    # SAU's every stage but its latent bank (its training loop is `sau_unlearn/train` since the trainers share one loop; the bank is drawn once)
    sau = lambda s: s == "sau_unlearn" or (s.startswith("sau_unlearn/") and s != "sau_unlearn/latent_bank")
    f = lambda r: factor if r["stage"] == stage else sau_factor if sau(r["stage"]) else 1.
    return [dict(r, rows=round(r["rows"] * f(r))) for r in table]


STAGE_NAMES = [("scan_tokens/scan_contexts", "contexts: latents generated, their ε"), ("scan_tokens/cross_queries", "first stage: the clean queries"),
               ("scan_tokens/attention_departure", "first stage: attention departure of every token"),
               ("scan_tokens/token_departure", "exact departure (one stage: every token)"), ("extend_tokens", "beam extension to 3 tokens"),
               ("token_departure", "candidates' sub-texts"), ("verify", "verification in 12 held-out contexts"), ("group_backdoors", "grouping"),
               ("picture_effects", "pictures of the candidates"), ("sau_unlearn/latent_bank", "SAU's latent bank"), ("sau_unlearn", "SAU"), ("clean_drift", "clean drift")]


def label(stage: str) -> str:
    "A readable name for a stage of `row_stage`."
    return next((n for s, n in STAGE_NAMES if stage.startswith(s)), stage)


def project(table: list[dict], flops: dict, shares: dict) -> list[dict]:
    "Per readable stage: UNet rows, PFLOP, and minutes on a T4 and an H100 at `shares` of their peaks."
    from sau_nb.sd import stage_flops, project_seconds, T4_PEAK, H100_PEAK
    out = {}
    for (m, s), v in stage_flops(table, flops).items():
        d = out.setdefault(label(s), dict(stage=label(s), unet_rows=0, pflop=0., t4_min=0., h100_min=0.))
        d["unet_rows"] += sum(r["rows"] for r in table if r["model"] == m and r["stage"] == s and r["module"] == "unet")
        d["pflop"] += (v["infer"] + v["train"]) / 1e15
        d["t4_min"] += project_seconds(v, T4_PEAK, shares["infer"], shares["train"]) / 60
        d["h100_min"] += project_seconds(v, H100_PEAK, shares["infer"], shares["train"]) / 60
    return list(out.values())


def total(rows: list[dict], name: str, times: float = 1.) -> dict:
    "One row summing `rows`, `times` over."
    return dict(stage=name, **{k: sum(r[k] for r in rows) * times for k in ("unet_rows", "pflop", "t4_min", "h100_min")})


def defense(res: dict, px: int, fl: dict, t4_sau_steps: int) -> dict:
    "The staged scan by stage, the whole defense by part (scan, the candidates' pictures, SAU at 512 px, re-scan, drift), the one-stage scan, the re-scan's picture check."
    r, sh = res["rows"], res["shares"]
    f = {**fl[px], "first": res["cpu"]["first"][px]["attention_flops"]}
    f512 = {**fl[512], "first": res["cpu"]["first"][512]["attention_flops"]}
    scan = project(scaled(r["staged"], "scan_tokens/attention_departure", r["vocab"] / r["tokens"], 1.), f, sh)
    one = project(scaled(r["one_stage"], "scan_tokens/token_departure", r["vocab"] / r["one_stage_tokens"], 1.), f, sh)
    eff = total(project(r["effect"], f, sh), f"pictures of {r['candidates']} candidates (`picture_effects`)")
    drift = total(project(r["drift"], f, sh), "clean drift")
    check = total(project(r["check"], f, sh), f"re-scan's picture check, at most: {r['check_new']} new strings on the repaired and the input model")
    sau = project(scaled(r["sau"], "", 1., t4_sau_steps / r["sau_steps"]), f512, sh)
    bank = total([x for x in sau if x["stage"] == "SAU's latent bank"], "SAU's latent bank at 512 px, when not given (07 gives it; not in the total)")
    steps = total([x for x in sau if x["stage"] != "SAU's latent bank"], f"SAU, {t4_sau_steps} steps at 512 px, batch 1")
    s = total(scan, "scan")
    parts = [s, eff, steps, dict(s, stage="re-scan"), drift]
    return dict(scan=scan, scan_total=s, one_stage=one, one_stage_total=total(one, "scan, one-stage design"), parts=parts,
                whole=total(parts, "whole defense"), bank=bank, check=check, flop_ratio=s["pflop"] / total(one, "")["pflop"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=2048, help="tokens the counted scan searches (its first stage is scaled to the vocabulary)")
    ap.add_argument("--sau-steps", type=int, default=2, help="SAU steps counted (scaled to --t4-sau-steps)")
    ap.add_argument("--t4-sau-steps", type=int, default=200, help="the T4 setting's SAU steps (07's: 200 at batch 1)")
    ap.add_argument("--candidates", type=int, default=2, help=f"candidates over the threshold whose pictures the scan draws (at most {len(CANDIDATES)})")
    ap.add_argument("--check-new", type=int, default=2, help=f"`defend`'s check_new: the re-scan's new strings it draws (at most {len(CANDIDATES)})")
    ap.add_argument("--px", type=int, nargs="+", default=[256, 512], help="image sizes of the contexts to project (512 is always counted)")
    ap.add_argument("--time-px", type=int, default=256, help="the size timed on this CPU")
    ap.add_argument("--first-tokens", type=int, default=64); ap.add_argument("--exact-tokens", type=int, default=2)
    ap.add_argument("--setting", type=int, nargs=2, default=[256, 100], metavar=("PX", "SAU_STEPS"),
                    help="07's T4 setting: contexts at PX (one of --px), SAU_STEPS steps of SAU")
    ap.add_argument("--json", default=None); ap.add_argument("--md", default=None)
    a = ap.parse_args(argv)
    if a.setting[0] not in a.px: ap.error(f"--setting's px {a.setting[0]} must be one of --px {a.px}")
    if not (1 <= a.candidates <= len(CANDIDATES) and 0 <= a.check_new <= len(CANDIDATES)):
        ap.error(f"--candidates must be 1 to {len(CANDIDATES)} and --check-new 0 to {len(CANDIDATES)}")
    from sau_nb.sd import achieved_share, TRAIN_FACTOR, T4_PEAK
    t_all, px_list = time.time(), sorted(set(a.px) | {512})
    rows = small_rows(a.tokens, a.sau_steps, a.candidates, a.check_new)
    lengths = sorted({r["shape"][-1] for k in ("staged", "one_stage", "effect", "sau", "drift", "check") for r in rows[k] if r["module"] == "text_encoder"})
    fl = meta_flops(px_list, lengths)
    cpu = cpu_stage(px_list, a.first_tokens, a.exact_tokens, a.time_px)
    f512 = fl[512]
    shares = dict(infer=achieved_share(STEPS_50 * 2 * f512["unet"] + f512["vae_decoder"] + 2 * f512["text_encoder", 77], T4_IMAGE_S, T4_PEAK),
                  train=achieved_share(TRAIN_FACTOR * f512["unet"], 1 / T4_TRAIN_IT_S, T4_PEAK))
    res = dict(host=cpu_info(), python=platform.python_version(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               command="OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scan_sd.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               shares=shares, rows=rows, cpu=cpu, candidates=a.candidates, check_new=a.check_new)
    res["designs"] = {px: defense(res, px, fl, a.t4_sau_steps) for px in a.px}
    (px, steps), d = a.setting, res["designs"][a.setting[0]]
    sau, k = d["parts"][2], steps / a.t4_sau_steps  # SAU's rows scale with its steps
    res["setting"] = dict(px=px, sau_steps=steps, **{m: d["whole"][m] - sau[m] * (1 - k) for m in ("unet_rows", "pflop", "t4_min", "h100_min")})
    res["flops"] = {px: {"/".join(map(str, k)) if isinstance(k, tuple) else k: v for k, v in f.items()} for px, f in fl.items()}
    res["seconds"] = round(time.time() - t_all, 1)
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    md = markdown(res)
    if a.md: Path(a.md).write_text(md)
    print(md)
    return 0


def markdown(res: dict) -> str:
    "Per px: the staged scan by stage against the one-stage scan, the whole defense by part; then the CPU timings and FLOPs per row."
    row = lambda r: f"| {r['stage']} | {r['unet_rows']:,.0f} | {r['pflop']:.3g} | {r['t4_min']:.1f} | {r['h100_min']:.2f} |"
    L = [f"`{res['command']}`, {res['date']}, {res['host']}, one thread, host loaded by other jobs. Projection: T4 at "
         f"{res['shares']['infer']:.1%} of its 65 TFLOP/s in inference and {res['shares']['train']:.1%} in training, the H100 at the same shares of 989.", ""]
    for px, d in res["designs"].items():
        L += [f"**Contexts at {px} px**: the scan's stages (staged design), and the old one-stage design", "",
              "| stage | UNet rows | PFLOP | T4 min | H100 min |", "|---|---|---|---|---|"]
        L += [row(r) for r in d["scan"]] + [row(d["scan_total"]), row(d["one_stage_total"])]
        L += ["", f"FLOP ratio, staged / one-stage scan: {d['flop_ratio']:.3f}", "", "| part of `defend` | UNet rows | PFLOP | T4 min | H100 min |",
              "|---|---|---|---|---|"] + [row(r) for r in d["parts"]] + [row(d["whole"]), row(d["bank"]), row(d["check"]), ""]
    t, c = res["setting"], res["designs"][res["setting"]["px"]]["check"]
    L += [f"**07's T4 setting** (contexts at {t['px']} px, SAU {t['sau_steps']} steps): whole defense {t['unet_rows']:,.0f} UNet rows, "
          f"{t['pflop']:.3g} PFLOP, {t['t4_min']:.1f} min on a T4, {t['h100_min']:.2f} min on an H100; with the re-scan's picture check at "
          f"its worst {t['t4_min'] + c['t4_min']:.1f} min on a T4", ""]
    c = res["cpu"]
    for px, r in c["first"].items():
        L.append(f"- first stage at {px} px: {r['flops_per_token'] / 1e9:.1f} GFLOP per token (text encoder at {r['n_text']} states "
                 f"{r['text_encoder_flops'] / 1e9:.1f}, attention {r['attention_flops'] / 1e9:.1f})" + (f"; {r['tokens_per_s']} tokens/s on this CPU" if "tokens_per_s" in r else ""))
    e = c["exact"]
    L.append(f"- exact departure at {e['px']} px: {e['tokens_per_s']} tokens/s on this CPU ({e['unet_rows_per_s']} UNet rows/s, {e['contexts']} contexts)")
    for px, v in res["flops"].items():
        L.append(f"- one row at {px} px: UNet {v['unet'] / 1e9:.0f} GFLOP, VAE decoder {v['vae_decoder'] / 1e9:.0f} GFLOP; text encoder "
                 + ", ".join(f"{k.split('/')[1]} states {f / 1e9:.1f}" for k, f in v.items() if k.startswith("text_encoder")) + " GFLOP")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
