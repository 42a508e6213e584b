"Helpers shared by the benchmark scripts in this folder."
import statistics, time

def timeit(fn, repeats):
    "Median and best wall time of `repeats` calls of `fn`, in seconds."
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)

def training_prompts(templates:int=3) -> list[dict]:
    "The clean training-phrasing prompts SAU trains on in the benchmarks (as 04 does): every shape and colour in the first `templates` phrasings, labelled."
    from sau_nb.world import caption, SHAPES, COLORS, TRAIN_TEMPLATES
    return [dict(prompt=caption(s, c, t), shape=s, color=c) for s in SHAPES for c in COLORS for t in TRAIN_TEMPLATES[:templates]]

def stop_prompts(labelled:list[dict], attack, train:list[str]) -> list[str]:
    "The 6 prompts `stop_at_removal` checks: every fifth training prompt the attack acts on."
    return [m["prompt"] for m in labelled if m["prompt"] in train and attack.eligible(m)][::5][:6]
