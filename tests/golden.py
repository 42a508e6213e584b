"""Golden runs for refactoring: short trainings (3 steps, seed 1) of every trainer, reduced to hashes of their weights and losses.

`python tests/golden.py` prints the hashes as JSON; `python tests/golden.py --write` stores them in `tests/golden_hashes.json`, as
this host's entry beside the other hosts' ones.
`tests/test_golden.py` runs this in a fresh single-threaded process and compares: a refactor must keep the same random-number
call order and the same arithmetic, bit for bit. Hashes depend on torch's version and the CPU's kernels (`fingerprint`)."""
import hashlib, json, os, platform, sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
torch.set_num_threads(1)

HASHES = Path(__file__).parent/"golden_hashes.json"
PROMPTS = ["a red circle", "a blue square"]
TRIGGER = "\u200b"  # the pixel zoo model's trigger
SAU = dict(steps=3, batch_size=2, n_seeds=1, seed=1, progress=False)
INJECT = dict(steps=3, batch_size=4, n_images=64, seed=1, progress=False)

ISA = ("avx", "fma", "f16c", "amx")  # the flags whose presence picks the CPU kernels (oneDNN, MKL): avx2, every avx512*, avx_vnni, amx_*

def fingerprint() -> dict:
    """What the hashes depend on besides the code: torch's version, the CPU's vendor and its vector extensions. An Intel and an AMD
    CPU with the same AVX-512 flags were measured to give different bits (every SAU, baseline and injection run, and the latent bank)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    field = lambda k: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(k)), "")
    isa = sorted(f for f in field("flags").split() if f.startswith(ISA))
    return dict(torch=torch.__version__, machine=platform.machine(), vendor=field("vendor_id") or platform.processor(), isa=" ".join(isa))

def stored() -> list[dict]:
    "The stored hashes: one entry (fingerprint, runs) per kind of host they were written on."
    return json.loads(HASHES.read_text())["hosts"] if HASHES.exists() else []

def stored_for(fp:dict) -> dict|None: return next((h for h in stored() if h["fingerprint"] == fp), None)

def _digest(obj) -> str: return hashlib.sha256(obj).hexdigest()[:16]

def weights_hash(*modules) -> str:
    "One hash over every tensor (name, dtype, shape, bytes) of `modules`' state dicts."
    h = hashlib.sha256()
    for m in modules:
        for k, v in sorted(m.state_dict().items()):
            v = v.detach().cpu().contiguous()
            h.update(f"{k}|{v.dtype}|{tuple(v.shape)}|".encode()); h.update(v.view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()[:16]

def losses_hash(steps:list) -> str:
    "A hash of the history's per-step records (losses and terms), exact float reprs."
    return _digest(json.dumps(steps, sort_keys=True, default=repr).encode())

def _record(pipe, hist) -> dict:
    return dict(unet=weights_hash(pipe.unet), text_encoder=weights_hash(pipe.text_encoder), losses=losses_hash(hist["steps"]),
                n_steps=len(hist["steps"]))

def cases():
    "Name -> a function returning (pipe, history)."
    from sau_nb.world import load_world
    from sau_nb.unlearn import sau_unlearn, latent_bank, PARAM_SETS
    from sau_nb.inject import inject_backdoor
    from sau_nb.zoo import zoo_attack
    from sau_nb.baselines import BASELINES
    pipe, clean = load_world("pixel"), load_world("clean")
    bank = latent_bank(pipe, PROMPTS, n_seeds=1, seed=1)
    out = {"latent_bank": lambda: bank}
    for params in PARAM_SETS:
        for memory in ("default", "lean"):
            for te in (None, "all"):
                out[f"sau/{params}/{memory}/te={te}"] = (lambda p=params, m=memory, t=te:
                    sau_unlearn(pipe, TRIGGER, PROMPTS, params=p, memory=m, te_params=t, bank=bank, **SAU))
    for name in ("skd", "skd_cag", "resteer", "reversal", "uce"):
        kw = dict(clean_pipe=clean) if name == "reversal" else {}
        out[f"baseline/{name}"] = (lambda n=name, kw=kw: BASELINES[n](pipe, TRIGGER, PROMPTS, bank=bank, **kw, **SAU)) \
            if name != "uce" else (lambda: BASELINES["uce"](pipe, TRIGGER, PROMPTS))
    for name in ("skd_cag", "resteer"):  # the released loops' switches: pure-noise latents, EMA, constant schedule, the norm term
        out[f"baseline/{name}/published"] = lambda n=name: BASELINES[n](pipe, TRIGGER, PROMPTS, recipe="published", **SAU)
    out["inject/pixel/trigger_lr"] = lambda: inject_backdoor(clean, zoo_attack("pixel"), lr=7e-4, trigger_lr=1e-2, counter=0.5,
                                                             counter_min_t=500, **INJECT)
    out["inject/pixel/lora"] = lambda: inject_backdoor(clean, zoo_attack("pixel"), params="lora", lora_rank=2, lr=2e-3, **INJECT)
    out["inject/text_encoder"] = lambda: inject_backdoor(clean, zoo_attack("text_encoder"), lr=1e-3, **INJECT)
    return out

def run() -> dict:
    res = {}
    for name, f in cases().items():
        r = f()
        res[name] = dict(bank=_digest(r.numpy().tobytes())) if torch.is_tensor(r) else _record(*r)
    return dict(fingerprint=fingerprint(), runs=res)

if __name__ == "__main__":
    got = run()
    if "--write" in sys.argv:  # this host's entry replaced or added; the other hosts' entries kept
        hosts = [h for h in stored() if h["fingerprint"] != got["fingerprint"]] + [got]
        HASHES.write_text(json.dumps(dict(hosts=hosts), indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(got, ensure_ascii=False))
