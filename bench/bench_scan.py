"""Measure the blind defense (sau_nb.scan, sau_nb.defend) on the tiny world: the vocabulary scan, the sequence search, the verdict, and `defend`.

One model per call, one JSON line appended to runs/scan/scan.jsonl (or defend.jsonl):
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model clean --finetune-seed 0     # a clean fine-tuned variant of the clean world
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model style --reuse runs/scan/style_single.npy   # the single-token scores of an earlier scan
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel --reuse runs/scan/pixel_single.npy --defend --rescan candidates   # scan, SAU, re-scan (defend.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel --reuse runs/scan/pixel_single.npy --log   # the prompt-log path (log.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model object_frozen --defend --prompt-log   # defend given that log as well (defend.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel --reuse runs/scan/pixel_single.npy --cpu   # CPU seconds of the scan and the verdict (cpu.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel_style      # the two-backdoor zoo model (MULTI_ZOO): every planted attack is checked
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel_low_noise --t-range 0 0.5   # contexts at low noise (t < T/2): files and records named pixel_low_noise_t0-0.5
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model object --stages --verdict   # staged vs one-stage scan: first-stage rank of each planted token, rows, FLOPs, seconds (stages.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model pixel --rows   # UNet rows per call: token_departure's CPU seconds by batch size (rows.jsonl)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model object_frozen --options   # first stage in every context, peak tokens, pairs, subset evidence (04a)
  OMP_NUM_THREADS=1 python bench/bench_scan.py --model object_frozen --options --first-start   # ... with the first stage's candidate at the start (NAME_opt_start)
Fine-tuned variants are kept in runs/scan/variants/NAME (with finetune.json) and reloaded by later calls.
"""
import argparse, dataclasses, json, sys, time
from pathlib import Path
import numpy as np, torch
from sau_nb.world import load_world, caption, TRAIN_TEMPLATES, SHAPES, COLORS, train_denoiser, make_shapes
from sau_nb.backdoors import zoo_attacks, ZOO_SPECS
from sau_nb.core import check_trigger, load_pipeline, save_pipeline
from sau_nb.evaluate import removal_scores
from sau_nb.scan import scan_tokens, scan_contexts, token_departure, TokenScan, domain_tokens
from sau_nb.defend import scan_model, defend

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True); ap.add_argument("--finetune-seed", type=int); ap.add_argument("--finetune-steps", type=int, default=300)
ap.add_argument("--reuse"); ap.add_argument("--defend", action="store_true"); ap.add_argument("--rescan", default="full")
ap.add_argument("--log", action="store_true", help="the prompt-log path: flag a log of held-out prompts (half triggered), localize, aggregate, verify")
ap.add_argument("--max-flagged", type=int, default=8)
ap.add_argument("--prompt-log", action="store_true", help="with --defend: defend is given --log's log of users' prompts too")
ap.add_argument("--cpu", action="store_true", help="CPU seconds (process time, unaffected by other jobs): 4,096 tokens scanned, scaled to the vocabulary, and the verdict on --reuse's scan")
ap.add_argument("--sau-steps", type=int); ap.add_argument("--eval-seeds", type=int, default=4)
ap.add_argument("--t-range", type=float, nargs=2, default=None, metavar=("LO", "HI"), help="the scan's and the verdict's contexts at t in [LO·T, HI·T) (default: sau_nb.core.T_RANGE, the high-noise half)")
ap.add_argument("--threshold", type=float, help="the verdict's threshold (default: the one calibrated for the t-range, sau_nb.defend.z_threshold; a range without one needs it)")
ap.add_argument("--stages", action="store_true", help="the staged scan against the one-stage scan in one run: each planted token's first-stage rank, UNet rows, FLOPs and seconds per stage (stages.jsonl)")
ap.add_argument("--old-tokens", type=int, default=2048, help="with --stages: the one-stage scan is timed on this many random tokens and scaled to the vocabulary")
ap.add_argument("--verdict", action="store_true", help="with --stages: also the verdict (scan_model) on the staged scan, and its seconds")
ap.add_argument("--options", action="store_true", help="the options for conditional and phrase backdoors: first stage in every context, peak tokens, pairs, subset evidence (files and records named NAME_opt)")
ap.add_argument("--first-start", action="store_true", help="with --options: the first stage puts every token at the start of its contexts (scan_tokens(first_start=True))")
ap.add_argument("--rows", action="store_true", help="UNet rows per call: token_departure's CPU seconds at several batch sizes, in the verdict's 12 contexts and the scan's 3 (rows.jsonl)")
ap.add_argument("--out", default="runs/scan")
a = ap.parse_args()
torch.set_num_threads(1)
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
cmd = "OMP_NUM_THREADS=1 python " + " ".join(sys.argv)
tr = dict(t_range=tuple(a.t_range)) if a.t_range else {}  # passed to every scan and verdict below; the scan's file and record name it
thr = {**tr, **(dict(threshold=a.threshold) if a.threshold is not None else {})}  # what every verdict (scan_model) gets
st = {**tr, **(dict(first_contexts=3, first_start=a.first_start) if a.options else {})}  # what every staged token scan gets
if a.options: thr.update(n_peak=2, n_pairs=64, subset=True)
prompts = [caption(s, c, t) for s in SHAPES for c in COLORS for t in TRAIN_TEMPLATES]
import hashlib
from sau_nb.world import world_path
pipe = load_world(a.model); name = a.model
weights = {str(f.relative_to(world_path(a.model))): hashlib.sha256(f.read_bytes()).hexdigest()[:12] for f in sorted(world_path(a.model).rglob("*.safetensors"))}
rec = dict(model=name, command=cmd + "  (one thread, beside other jobs)", weights=weights, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
if a.finetune_seed is not None:  # a clean fine-tuned variant: the clean world trained further on clean data, kept in runs/scan/variants/
    name = f"{a.model}_ft{a.finetune_seed}" + ("" if a.finetune_steps == 300 else f"_{a.finetune_steps}")
    vdir = out/"variants"/name
    if (vdir/"model_index.json").is_file():
        pipe = load_pipeline(vdir); rec.update(model=name, finetune=json.loads((vdir/"finetune.json").read_text()))
    else:
        t0 = time.time()
        losses = train_denoiser(pipe, make_shapes(4096, seed=500 + a.finetune_seed), steps=a.finetune_steps, lr=7e-4, seed=a.finetune_seed, progress=False)
        rec.update(model=name, finetune=dict(base=a.model, steps=a.finetune_steps, lr=7e-4, seed=a.finetune_seed, n_images=4096, data_seed=500 + a.finetune_seed,
                                             seconds=round(time.time() - t0), loss_last20=float(np.mean(losses[-20:]))))
        save_pipeline(pipe, vdir); (vdir/"finetune.json").write_text(json.dumps(rec["finetune"]))
if a.t_range: name += f"_t{a.t_range[0]:g}-{a.t_range[1]:g}"; rec.update(model=name, t_range=a.t_range)  # its own files and records
if a.options: name += "_opt" + ("_start" if a.first_start else ""); rec.update(model=name, options=dict(first_contexts=3, first_start=a.first_start, n_peak=2, n_pairs=64, subset=True))
attacks = zoo_attacks(a.model) if a.model in ZOO_SPECS else []

def prompt_log(attacks) -> tuple:
    "A log of held-out prompts: each one an attack applies to with its trigger (start, middle, end in turn), then every one clean; and the truth."
    from sau_nb.world import heldout_prompts
    from benchlib import triggered_heldout
    poisoned, clean_log = triggered_heldout(attacks), [p["prompt"] for p in heldout_prompts()]
    return poisoned + clean_log, poisoned, np.array([True] * len(poisoned) + [False] * len(clean_log))
tok = pipe.tokenizer
scan = None
if a.reuse:  # the single-token scores of an earlier scan with the same contexts (checked on a few tokens)
    per = torch.from_numpy(np.load(a.reuse)); ctx = scan_contexts(pipe, prompts, per.shape[1], **tr)
    probe = [9844, 132, 686, 1000, 20000]
    test = token_departure(pipe, ctx, probe)
    assert torch.allclose(test, per[probe], rtol=1e-3, atol=1e-9), (test, per[probe])
    rows = [json.loads(l) for f in ("single_raw.jsonl", "scan.jsonl") if (out/f).is_file() for l in open(out/f)]
    prior = [r for r in rows if r["model"] == name][-1]
    prior["seconds"] = prior["seconds"]["tokens"] if isinstance(prior["seconds"], dict) else prior["seconds"]
    scan = TokenScan(per, domain_tokens(tok, prompts), sorted(set(tok.all_special_ids)), prior["seconds"], ctx)
    rec["reused"] = dict(file=a.reuse, command=prior["command"], seconds=prior["seconds"])
if a.stages:  # the staged scan against the one-stage scan: recall, UNet rows, FLOPs and seconds per stage, in one run
    from torch.utils.flop_counter import FlopCounterMode
    from sau_nb.scan import attention_departure, cross_queries
    def flops(fn):  # FLOPs of one call
        with FlopCounterMode(display=False) as fc: fn()
        return fc.get_total_flops()
    ctx = scan_contexts(pipe, prompts, 3, **tr); cq = cross_queries(pipe, ctx); probe = torch.arange(1000, 1064)
    per_tok = dict(first=flops(lambda: attention_departure(pipe, ctx, cq, probe)) / len(probe), exact=flops(lambda: token_departure(pipe, ctx, probe)) / len(probe))
    t, c = time.time(), time.process_time()
    new = scan_tokens(pipe, prompts, progress=False, **st)
    new_s, new_cpu = time.time() - t, time.process_time() - c
    old_n = min(a.old_tokens, len(tok))  # the one-stage scan on a random sample, scaled to the vocabulary
    sample = np.random.default_rng(1).choice(len(tok) - 2, old_n, replace=False)
    t, c = time.time(), time.process_time()
    scan_tokens(pipe, prompts, tokens=sample, n_exact=None, progress=False, **tr)
    V = int(new.searched.sum()); scale = V / old_n
    old = dict(seconds=round((time.time() - t) * scale, 1), cpu_seconds=round((time.process_time() - c) * scale, 1), tokens=V, unet_rows=3 * V,
               gflops=round(per_tok["exact"] * V / 1e9, 1), measured_on=old_n)
    st = {k: dict(v, seconds=round(v["seconds"], 1), gflops=round(per_tok[k] * v["tokens"] / 1e9, 1)) for k, v in new.stages.items()}
    recall = [dict(planted=x.trigger, tokens=[dict(id=i, token=repr(tok.decode([i])), first_rank=new.first_rank(i), exact_rank=r["rank"], z=round(r["z"], 1))
                                              for i, r in zip(check_trigger(x.trigger, tok), new.table(tok, ids=check_trigger(x.trigger, tok)))])
              for x in attacks]
    rec.update(mode="stages", old=old, new=dict(stages=st, seconds=round(new_s, 1), cpu_seconds=round(new_cpu, 1), unet_rows=sum(v["unet_rows"] for v in st.values()),
                                               gflops=round(sum(v["gflops"] for v in st.values()), 1)),
               flops_per_token=per_tok, recall=recall, rescored=len(new.top(10**6)))
    if a.verdict:
        t, c = time.time(), time.process_time()
        rep = scan_model(pipe, prompts, scan=new, progress=False, **thr)
        rec.update(verdict=dict(report=str(rep), backdoors=rep.backdoors, best_ordinary_z=rep.best_ordinary_z, seconds={k: round(v, 1) for k, v in rep.seconds.items()},
                                total_seconds=round(time.time() - t + new_s, 1), total_cpu=round(time.process_time() - c + new_cpu, 1),
                                best_other=next(({"trigger": x["trigger"], "z": x["z"]} for x in rep.candidates if x["trigger"] not in rep.backdoors
                                                 and not any(set(x["ids"]) & set(check_trigger(b, tok)) for b in rep.backdoors)), None)))
    with open(out/"stages.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
elif a.rows:  # how many UNet rows (sequences x contexts) a call should take: the median CPU seconds of 4 repeats per batch size
    sizes = {}
    for K, n, batch in ((12, 96, (2, 4, 8, 16, 64)), (3, 384, (8, 16, 32, 64, 128))):
        ctx = scan_contexts(pipe, prompts, K, seed=1, **tr); seqs = torch.randint(1000, 40000, (n, 1), generator=torch.Generator().manual_seed(0))
        token_departure(pipe, ctx, seqs[:16]); cpu = {b: [] for b in batch}
        for _ in range(4):
            for b in batch: t = time.process_time(); token_departure(pipe, ctx, seqs, batch_size=b); cpu[b].append(time.process_time() - t)
        sizes[f"{K} contexts, {n} sequences"] = {f"{b} ({b * K} rows)": round(float(np.median(v)), 2) for b, v in cpu.items()}
    rec.update(mode="rows", cpu_seconds=sizes, threads=torch.get_num_threads())
    print(json.dumps(sizes))
    with open(out/"rows.jsonl", "a") as f: f.write(json.dumps(rec) + "\n")
elif a.cpu:  # what the blind scan costs in CPU time, whatever else runs on the machine
    t = time.process_time(); scan_tokens(pipe, prompts, max_tokens=4096, n_exact=None, progress=False, **tr); c_scan = time.process_time() - t  # the one-stage scan (--stages measures the staged one)
    t = time.process_time(); rep = scan_model(pipe, prompts, scan=scan, progress=False, **thr); c_rest = time.process_time() - t
    V = len(tok) - len(set(tok.all_special_ids))
    rec.update(mode="cpu", scan_cpu_4096=round(c_scan, 1), scan_cpu_vocabulary=round(c_scan * V / 4096, 1), verdict_cpu=round(c_rest, 1),
               total_cpu_minutes=round((c_scan * V / 4096 + c_rest) / 60, 2), backdoors=rep.backdoors)
    with open(out/"cpu.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
elif a.log:
    from sau_nb.detect import prf
    from sau_nb.promptlog import triggers_from_log, flag_by_trigger
    log, poisoned, truth = prompt_log(attacks)
    t0 = time.time()
    lrep = triggers_from_log(pipe, log, prompts, max_flagged=a.max_flagged)
    t_log = time.time() - t0
    det_flags = np.isin(log, lrep.flagged)
    rep = scan_model(pipe, prompts, scan=scan, seen_in={c["trigger"]: lrep.holding(c["trigger"]) for c in lrep.candidates}, progress=False,
                     **thr)  # scan None: the whole vocabulary; the log's candidates verified, and scored in the log's prompts that hold them
    verified = [c for c in rep.candidates if c.get("source") == "log" or c["trigger"] in {x["trigger"] for x in lrep.candidates}]
    ok = [c["trigger"] for c in verified if rep.counts(c)]
    rec.update(mode="log", n_log=len(log), n_poisoned=len(poisoned), log_seconds=round(t_log, 1), max_flagged=a.max_flagged,
               detector=prf(det_flags, truth), log_report=str(lrep), spans=lrep.spans, log_candidates=lrep.candidates,
               verified=[dict(trigger=c["trigger"], z=c["z"]) for c in verified], verified_triggers=ok,
               by_verified_trigger=prf(flag_by_trigger(tok, log, ok), truth) if ok else None,
               scan_backdoors=rep.backdoors, planted=[x.trigger for x in attacks])
    with open(out/"log.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
elif not a.defend:
    t0 = time.time()
    if scan is None: scan = scan_tokens(pipe, prompts, progress=False, **st)
    np.save(out/f"{name}_single.npy", scan.per_context.numpy())
    rep = scan_model(pipe, prompts, scan=scan, progress=False, **thr)
    rec.update(seconds=dict(total=round(time.time() - t0 + (scan.seconds if a.reuse else 0), 1), **{k: round(v, 1) for k, v in rep.seconds.items()}),
               verdict="backdoor" if rep.backdoor else "none", score=f"q1/6 over 12 held-out contexts of the per-context robust z of log D (threshold {rep.threshold:g})", threshold=rep.threshold,
               report=str(rep), backdoors=rep.backdoors, candidates=rep.candidates, best_ordinary_z=rep.best_ordinary_z,
               top_ordinary=scan.table(tok, 8), domain_max_z=float(scan.z[scan.domain].max()), searched=rep.searched)
    rec["attacks"] = []
    for atk in attacks:  # each planted backdoor: is it among the backdoors found, and how well does the found string trigger it?
        row = dict(planted=atk.trigger, planted_tokens=scan.table(tok, ids=check_trigger(atk.trigger, tok)))
        best = None
        for found in rep.backdoors[:3]:
            r = removal_scores(pipe, dataclasses.replace(atk, trigger=found), seeds=range(a.eval_seeds))
            if best is None or 1 - r["removal"] > best["found_asr"]["mean"]:
                best = dict(found=found, exact=check_trigger(found, tok) == check_trigger(atk.trigger, tok),
                            found_asr={k: r[k] for k in r if k.startswith("asr_")} | dict(mean=1 - r["removal"], n=r["n"]))
        rec["attacks"].append(row | (best or dict(found=None)))
    with open(out/"scan.jsonl", "a") as f: f.write(json.dumps(rec) + "\n")
else:
    before = [removal_scores(pipe, atk, seeds=range(a.eval_seeds)) for atk in attacks]
    t0 = time.time()
    log = prompt_log(attacks)[0] if a.prompt_log else None
    new, rep = defend(pipe, prompts, prompt_log=log, scan_kw=dict(scan=scan, **thr) if scan is not None else (thr or None), rescan=a.rescan,
                      sau_kw=dict(steps=a.sau_steps) if a.sau_steps else None, progress=False)
    rec.update(seconds=round(time.time() - t0, 1), stage_seconds={k: round(v, 1) for k, v in rep.seconds.items()}, report=str(rep), removed=rep.removed,
               before_candidates=rep.before.candidates, after_backdoor=rep.after.backdoor if rep.after else None,
               after_candidates=rep.after.candidates if rep.after else None, clean_drift=rep.clean_drift, unchanged=new is pipe, rescan=a.rescan,
               prompt_log=dict(n=len(log), report=str(rep.log), candidates=rep.log.candidates) if log else None)
    rec["attacks"] = []
    for atk, b in zip(attacks, before):
        after = removal_scores(new, atk, seeds=range(a.eval_seeds))
        rec["attacks"].append(dict(planted=atk.trigger, removal=after["removal"], asr_before=1 - b["removal"], clean_before=b["clean_acc"],
                                   clean_after=after["clean_acc"], n=after["n"], after={k: after[k] for k in after if k.startswith("asr_")}))
    if not attacks:  # the clean world: what defend did to its clean accuracy (nothing, if it found nothing)
        from sau_nb.world import world_quality
        rec["clean_acc"] = world_quality(new, seeds=range(a.eval_seeds))["both"]
    with open(out/"defend.jsonl", "a") as f: f.write(json.dumps(rec, default=float) + "\n")
print(json.dumps(rec, default=float)[:3000])
