"""SAU on the shipped zoo, measured: removal per attack with the defaults, and the ablation on one model.

Run by hand (never in the tests):
  .venv/bin/python bench/bench_sau.py --models pixel style object text_encoder --seeds 8 --clean-seeds 32 --versus-world --attacker-te  # the main table
  .venv/bin/python bench/bench_sau.py --models style --ablation --quick --steps 300 --attacker-te  # the ablation (04's ABLATIONS), as measured in 04
  .venv/bin/python bench/bench_sau.py --models style --quick --variant '{"lr": 5e-4}'  # one setting, 12 prompts × 3 seeds
  .venv/bin/python bench/bench_sau.py --models object --quick --eligible              # SAU trained on circle prompts only
  .venv/bin/python bench/bench_sau.py --models pixel --eligible --skip-before --clean-seeds 32 --save runs/sau  # clean accuracy to ±0.5 point
  .venv/bin/python bench/bench_sau.py --models pixel --eligible --skip-before --clean-seeds 32 --saved runs/sau/pixel-defaults  # measure a saved one
  .venv/bin/python bench/bench_sau.py --models style --seeds 4 --skip-before --location --saved runs/sau/style-defaults --attacker-te  # which half holds it
  .venv/bin/python bench/bench_sau.py --models style --seeds 8 --skip-before --attacker-te --variant '{"w_orig": 10}'  # does the UNet itself unlearn?
  .venv/bin/python bench/bench_sau.py --models object --seeds 4 --shapes circle square --variant '{"focus": 1, "keep_any": 1}'
  .venv/bin/python bench/bench_sau.py --models pixel --seeds 8 --clean-seeds 32 --attacker-te --memory lean  # the memory-lean profile (04)
  .venv/bin/python bench/bench_sau.py --models pixel --rss-steps 30 --memory default lean  # peak RSS and seconds per step, one process per profile
  .venv/bin/python bench/bench_sau.py --models pixel --rss-steps 30 --memory default lean --variant '{"params": "attn2_kv"}'  # the same, one setting
  .venv/bin/python bench/bench_sau.py --models pixel style object --seeds 8 --skip-before --stop 2.5  # the defaults with the stop rule (04's stop_at_removal)
Prints markdown tables; docs and notes that quote SAU removal figures must quote this output with its command."""
import argparse, json, platform, resource, subprocess, sys, time
from collections import Counter
import numpy as np, torch
from sau_nb.world import SHAPES, heldout_prompts, load_world, read_attributes
from sau_nb.core import generate, load_pipeline, md_table
from sau_nb.backdoors import zoo_attack
from sau_nb.core import check_trigger
from benchlib import stop_prompts, training_prompts
from sau_nb.effect import stop_at_removal
from sau_nb.unlearn import ABLATIONS, MEMORY_PROFILES, SAUConfig, latent_bank, sau_unlearn
from sau_nb.students import _te_trained, trainable_unet
from sau_nb.evaluate import mix_pipeline, removal_scores

def by_shape(pipe, seeds, prompts=None):
    "For each intended shape, how the defended model's clean generations are read."
    ps = heldout_prompts() if prompts is None else prompts
    at = read_attributes(generate(pipe, [p["prompt"] for p in ps], seeds=list(seeds)), ["shape_color"])
    metas = [p for p in ps for _ in seeds]
    return {s: dict(Counter(a["shape"] for a, m in zip(at, metas) if m["shape"] == s)) for s in SHAPES}

def clean_hits(pipe, seeds):
    "Per held-out generation (prompt-major), whether its shape and colour are both read as asked."
    ps = heldout_prompts(); metas = [p for p in ps for _ in seeds]
    at = read_attributes(generate(pipe, [p["prompt"] for p in ps], seeds=list(seeds)), ["shape_color"])
    return np.array([a["shape"] == m["shape"] and a["color"] == m["color"] for a, m in zip(at, metas)])

def paired(before, after):
    "Clean accuracy before and after on the same prompts and seeds, the change, and its standard error from the discordant pairs."
    lost, won, n = int((before & ~after).sum()), int((~before & after).sum()), len(before)
    return dict(clean_before=float(before.mean()), clean_after=float(after.mean()), change=(won - lost) / n, se=float(np.sqrt(lost + won) / n), lost=lost, won=won, n=n)

def fmt(r): return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}

def rss_child(name, memory, steps, prompts, kw):
    "One profile in this process: peak RSS before SAU (world loaded, latent bank made) and after `steps` steps, and the seconds per step."
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # MB (Linux reports kB)
    pipe = load_world(name); atk = zoo_attack(name)
    bank = latent_bank(pipe, prompts, 4)
    before = peak()
    _, h = sau_unlearn(pipe, atk.trigger, prompts, steps=steps, bank=bank, memory=memory, progress=False, **kw)
    s = h["step_seconds"][1:]  # the first step warms up
    print(json.dumps(dict(model=name, memory=memory, variant=json.dumps(kw), steps=steps, rss_before_mb=round(before), rss_peak_mb=round(peak()),
                          sau_mb=round(peak() - before), s_per_step_median=round(float(np.median(s)), 3), s_per_step_mean=round(float(np.mean(s)), 3))))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["pixel", "style", "object"])
    ap.add_argument("--seeds", type=int, default=8); ap.add_argument("--steps", type=int, default=None, help="SAU steps (default: sau_unlearn's)")
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--quick", action="store_true", help="12 held-out prompts (every third eligible one), trigger at the start, 3 seeds")
    ap.add_argument("--variant", default=None, help="one setting as JSON keyword arguments of sau_unlearn")
    ap.add_argument("--eligible", action="store_true", help="train on only the prompts the attack applies to (e.g. circles for circle → square)")
    ap.add_argument("--skip-before", action="store_true", help="do not re-measure the poisoned model (its row is in an earlier run's output)")
    ap.add_argument("--templates", type=int, default=3, help="SAU's clean prompts use the first N training phrasings (TRAIN_TEMPLATES); the notebook uses 3")
    ap.add_argument("--shapes", nargs="+", default=None, help="train on the prompts of these shapes only; also prints the defended model's clean generations read by shape")
    ap.add_argument("--clean-seeds", type=int, default=0, help="also measure clean accuracy before and after on the held-out prompts × this many seeds, paired, with the change's standard error")
    ap.add_argument("--versus-world", action="store_true", help="with --clean-seeds: also the clean world's clean accuracy on the same prompts and seeds, and each defended model's against it, paired")
    ap.add_argument("--save", default=None, help="save each defended pipeline (save_pretrained) under this folder")
    ap.add_argument("--location", action="store_true", help="where the backdoor lives: the poisoned UNet behind the clean world's text encoder and the clean UNet behind the poisoned one")
    ap.add_argument("--attacker-te", action="store_true", help="also measure the defended UNet behind the poisoned model's text encoder (the attacker's embeddings): does the UNet itself still carry the backdoor?")
    ap.add_argument("--saved", default=None, help="measure this saved defended pipeline (a --save folder) instead of training one; one model only")
    ap.add_argument("--memory", nargs="+", default=["default"], choices=list(MEMORY_PROFILES), help="sau_unlearn's memory profile(s); each is one more variant")
    ap.add_argument("--rss-steps", type=int, default=0, help="instead of the removal table: peak RSS and seconds per step of this many SAU steps, one fresh process per model and profile")
    ap.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=float, default=None, help="stop each run with stop_at_removal at this trigger_effect ratio (checks on 6 eligible training prompts, every 50 steps, 2 in a row); its checks count in sau_s")
    ap.add_argument("--cooldown", type=int, default=None, help="with --stop: steps of falling learning rate after the rule fires (default: stop_at_removal's)")
    a = ap.parse_args()
    if a.quick: a.seeds = 3
    labelled = training_prompts(a.templates)
    prompts = [p["prompt"] for p in labelled]
    if a.rss_child: return rss_child(a.models[0], a.rss_child, a.rss_steps, prompts, json.loads(a.variant) if a.variant else {})
    if a.rss_steps:
        print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; {len(prompts)} prompts × 4 seeds in the bank, batch 16")
        rows = [json.loads(subprocess.run([sys.executable, __file__, "--models", name, "--rss-steps", str(a.rss_steps), "--rss-child", m]
                                          + (["--variant", a.variant] if a.variant else []),
                                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                for name in a.models for m in a.memory]
        return print(md_table(rows).data)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{len(prompts)} clean training-phrasing prompts; evaluation on the held-out prompts × {a.seeds} seeds")
    rows = []
    for name in a.models:
        pipe, atk = load_world(name), zoo_attack(name)
        train = [p["prompt"] for p in labelled if atk.eligible(p)] if a.eligible else prompts
        if a.shapes: train = [p["prompt"] for p in labelled if p["shape"] in a.shapes and p["prompt"] in train]
        variants = {a.variant: json.loads(a.variant)} if a.variant else ABLATIONS if a.ablation else {"defaults": {}}
        if a.memory != ["default"]:  # each profile is a variant of each setting
            variants = {label + ("" if m == "default" else f", memory={m}"): {**kw, "memory": m} for label, kw in variants.items() for m in a.memory}
        cb = clean_hits(pipe, range(a.clean_seeds)) if a.clean_seeds else None
        cw = clean_hits(load_world(), range(a.clean_seeds)) if a.clean_seeds and a.versus_world else None
        if cw is not None: print(f"clean world, held-out prompts × {a.clean_seeds} seeds, against the poisoned model:", fmt(paired(cw, cb)), flush=True)
        ev = dict(positions=("start",), prompts=[p for p in heldout_prompts() if atk.eligible(p)][::3][:12]) if a.quick else {}
        if not a.skip_before:
            before = removal_scores(pipe, atk, seeds=range(a.seeds), **ev)
            rows.append(fmt(dict(model=name, variant="poisoned", **before)))
            print(md_table(rows[-1:]).data, flush=True)
        if a.location:
            clean = load_world()
            for label, mix in (("poisoned UNet + clean text encoder", mix_pipeline(pipe, clean)), ("clean UNet + poisoned text encoder", mix_pipeline(clean, pipe))):
                print(name, label + ":", fmt(removal_scores(mix, atk, seeds=range(a.seeds), **ev)), flush=True)
        if a.saved and len(a.models) > 1: ap.error("--saved measures one saved model: pass one name to --models")
        for label, kw in variants.items():
            if a.saved: new, h, label = load_pipeline(a.saved), dict(seconds=0., stopped="loaded"), f"saved {a.saved}"
            else:
                rule = stop_at_removal(atk.trigger, stop_prompts(labelled, atk, train), ratio=a.stop, **({} if a.cooldown is None else dict(cooldown=a.cooldown))) if a.stop else {}
                new, h = sau_unlearn(pipe, atk.trigger, train, progress=False, **({} if a.steps is None else dict(steps=a.steps)), **kw, **rule)
                if a.stop: print(label, "stop-rule checks:", [dict(step=c["step"], ratio=round(c["ratio"], 2)) for c in h["checks"]], flush=True)
            r = removal_scores(new, atk, seeds=range(a.seeds), **ev)
            n_train = 0 if kw.get("lr") == 0 else sum(p.numel() for p in trainable_unet(pipe.unet, kw.get("params", "unet"))[1].values())
            default = lambda k: kw.get(k, SAUConfig().flat()[k])
            if default("trigger_lr") > 0:  # and the trigger's embedding shift
                n_train += len(set(check_trigger(atk.trigger, pipe.tokenizer))) * pipe.text_encoder.config.hidden_size
            if default("te_params"): n_train += sum(p.numel() for p in _te_trained(pipe.text_encoder, default("te_params")).values())  # and the text encoder's
            step_s = round(float(np.median(h["step_seconds"])), 3) if h.get("step_seconds") else None
            rows.append(fmt(dict(model=name, variant=label + (f" ({len(train)} eligible prompts)" if a.eligible else ""), **r, sau_s=round(h["seconds"]), s_per_step=step_s, trainable=n_train, stopped=h["stopped"])))
            print(md_table(rows[-1:]).data, flush=True)
            if a.attacker_te: print(label, "defended UNet + poisoned text encoder:", fmt(removal_scores(mix_pipeline(new, pipe), atk, seeds=range(a.seeds), **ev)), flush=True)
            if a.clean_seeds:
                ca = clean_hits(new, range(a.clean_seeds))
                print(label, f"clean accuracy, held-out prompts × {a.clean_seeds} seeds, paired:", fmt(paired(cb, ca)), flush=True)
                if cw is not None: print(label, "against the clean world, paired:", fmt(paired(cw, ca)), flush=True)
            if a.save: new.save_pretrained(f"{a.save}/{name}-{label.replace(' ', '_')[:40]}")
            if a.shapes: print(label, "clean held-out generations read as:", by_shape(new, range(a.seeds), ev.get("prompts")), flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1e3:.0f} MB")
    print(md_table(rows).data)

if __name__ == "__main__": main()
