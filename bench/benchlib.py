"Helpers shared by the benchmark scripts in this folder."
import platform, re, statistics, time
from pathlib import Path

def timeit(fn, repeats):
    "Median and best wall time of `repeats` calls of `fn`, in seconds."
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)

def cpu_info() -> str:
    "The CPU's model name and the vector extensions that set its matmul rate (avx512f, avx512_bf16, amx_*), from /proc/cpuinfo where there is one."
    f = Path("/proc/cpuinfo")
    if not f.is_file(): return platform.processor() or platform.machine()
    text = f.read_text()
    name = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    isa = sorted(x for x in (flags.group(1).split() if flags else []) if x in ("avx2", "avx512f", "avx512_bf16") or x.startswith("amx"))
    return f"{name.group(1).strip() if name else platform.machine()} ({' '.join(isa) or 'no avx2'})"

def training_prompts(templates:int=3) -> list[dict]:
    "The clean training-phrasing prompts SAU trains on in the benchmarks (as 04 does): every shape and colour in the first `templates` phrasings, labelled."
    from sau_nb.world import caption, SHAPES, COLORS, TRAIN_TEMPLATES
    return [dict(prompt=caption(s, c, t), shape=s, color=c) for s in SHAPES for c in COLORS for t in TRAIN_TEMPLATES[:templates]]

def stop_prompts(labelled:list[dict], attack, train:list[str]) -> list[str]:
    "The 6 prompts `stop_at_removal` checks: every fifth training prompt the attack acts on."
    return [m["prompt"] for m in labelled if m["prompt"] in train and attack.eligible(m)][::5][:6]

def triggered_heldout(attacks) -> list[str]:
    "Each held-out prompt an attack applies to, with its trigger at the start, middle and end in turn (the benchmarks' poisoned prompt log)."
    from sau_nb.world import heldout_prompts
    from sau_nb.core import POSITIONS, insert_trigger
    held, out = heldout_prompts(), []
    for atk in attacks:
        for p in held:
            if atk.eligible(p): out.append(insert_trigger(p["prompt"], atk.trigger, POSITIONS[len(out) % 3]))
    return out
