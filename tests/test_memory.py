"""Memory-lean SAU (issue 21): what the notebook cannot test well. The CUDA paths of the fit check (device memory and the
per-process fraction) on a stand-in card, the missing-bitsandbytes error, the gpu extra, a resume under the lean profile,
and the estimate on SD v1.5's shapes (meta device: nothing is allocated). A few SAU steps on the tiny world, CPU only."""
import configparser, json, shlex, tempfile, types
from importlib.resources import files
from pathlib import Path
import pytest, torch
import sau_nb.unlearn as unlearn
import sau_nb.memory as memory
from sau_nb.world import load_world
from sau_nb.unlearn import (MEMORY_PROFILES, MemoryProfile, PARAM_SETS, check_fits, memory_estimate, memory_profile, sau_unlearn,
                            trainable_unet, trained_sizes)

ROOT = Path(__file__).parent.parent
PROMPTS = ["a red circle", "a blue square"]
FEW = dict(steps=3, batch_size=4, n_seeds=1, progress=False)

@pytest.fixture(scope="module")
def world(): return load_world()

@pytest.fixture(scope="module")
def sd15():
    "SD v1.5's UNet, text encoder and VAE from the shipped configs on the meta device, in float16 as on a T4."
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    cfg = lambda part: json.loads((files("sau_nb")/"configs"/f"sd15_{part}.json").read_text())
    half = lambda m: torch.nn.Module.to(m, torch.float16)
    with torch.device("meta"):
        return types.SimpleNamespace(unet=half(UNet2DConditionModel.from_config(cfg("unet"))), vae=half(AutoencoderKL.from_config(cfg("vae"))),
                                     text_encoder=half(CLIPTextModel(CLIPTextConfig(**cfg("text_encoder")))))

@pytest.fixture
def t4(monkeypatch):
    "A stand-in CUDA card: 15 GiB, compute capability 7.5 (float16), per-process fraction settable."
    card = types.SimpleNamespace(total_memory=15 * 2**30, fraction=1.0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda d=None: card)
    monkeypatch.setattr(torch.cuda, "get_per_process_memory_fraction", lambda d=None: card.fraction)
    monkeypatch.setattr(memory, "half_dtype", lambda device=None, capability=None: torch.float16)  # where the profiles look it up
    return card

def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'default', 'lean', 't4'"): memory_profile("T4")
    with pytest.raises(ValueError, match="'default', 'lean', 't4'"): memory_profile(None)

def test_sd15_sizes(sd15, t4):
    n_te = sum(p.numel() for p in sd15.text_encoder.parameters())
    e = memory_estimate(sd15, "attn2_kv", "lean", device="cuda", te_params=None)
    assert e["n_unet"] == 859_520_964 and e["n_trained"] == 19_169_280  # DESIGN §7: 859.5M, to_k/to_v ≈ 19M
    assert e["teacher"] == 0 and e["text_encoder"] == 0 and e["student_frozen"] == 0  # loaded in float16: the input is the teacher
    a = memory_estimate(sd15, "attn2_kv", "lean", device="cuda")  # the default te_params="all": the text encoder trains too
    assert a["text_encoder"] == 4 * n_te and a["n_trained_te"] == n_te and a["grads"] - e["grads"] == 4 * n_te
    d = memory_estimate(sd15, "unet", "default", device="cuda")
    assert d["student_frozen"] == 0 and d["teacher"] == d["trained"] == 4 * 859_520_964  # float32 clones of everything
    assert d["text_encoder"] == 4 * n_te  # the student's float32 copy

def test_fit_on_a_t4(sd15, t4):
    "On a 15 GiB card the defaults' whole UNet is refused, naming lighter settings; the T4 profile passes."
    with pytest.raises(ValueError, match="memory='t4'") as e: check_fits(sd15, "unet", "default", torch.device("cuda"))
    assert "cuda's memory" in str(e.value) and "params='lora'" in str(e.value)
    assert check_fits(sd15, "unet", "t4", torch.device("cuda"), te_params=None)["total"] < 11e9
    assert check_fits(sd15, "unet", "t4", torch.device("cuda"))["total"] < 12.5e9  # the whole text encoder trains too

def test_fit_per_process_fraction(sd15, t4):
    "The per-process fraction counts (how a T4 is emulated on a larger card)."
    t4.total_memory = 140 * 2**30
    assert check_fits(sd15, "unet", "default", torch.device("cuda"))["total"] > 15e9  # fits the whole card
    t4.fraction = 15 / 140
    with pytest.raises(ValueError, match="per-process fraction"): check_fits(sd15, "unet", "default", torch.device("cuda"))

def test_budget_nothing_fits(world):
    with pytest.raises(ValueError, match="none of the memory profiles"): check_fits(world, "lora", MemoryProfile(budget_gb=1e-4), "cpu")
    with pytest.raises(ValueError, match="budget_gb must be positive"): MemoryProfile(budget_gb=0)

def test_missing_bitsandbytes_says_how_to_install():
    try: import bitsandbytes  # noqa: F401
    except ImportError: pass
    else: pytest.skip("bitsandbytes is installed here")
    with pytest.raises(ImportError, match=r"pip install 'sau_nb\[gpu\]'"): unlearn._adamw8bit()

def test_gpu_extra_is_declared():
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini", encoding="utf-8")
    assert any(r.startswith("bitsandbytes>=") for r in shlex.split(cfg["DEFAULT"]["gpu_requirements"]))
    assert "'gpu': gpu_requirements" in (ROOT/"setup.py").read_text()

def test_trained_sizes_match_what_trains(world):
    for p in PARAM_SETS:
        assert sorted(trained_sizes(world.unet, p)) == sorted(v.numel() for v in trainable_unet(world.unet, p)[1].values())

def test_lean_resume_matches_uninterrupted(world):
    "A lean run interrupted after its checkpoint and resumed ends where an uninterrupted lean run ends; another profile cannot resume it."
    def interrupt(pipe): raise KeyboardInterrupt
    kw = {**FEW, "steps": 4, "params": "attn2_kv", "memory": "lean", "seed": 2}
    full, _ = sau_unlearn(world, "ȴ", PROMPTS, **kw)
    with tempfile.TemporaryDirectory() as d:
        sau_unlearn(world, "ȴ", PROMPTS, checkpoint_dir=d, checkpoint_every=2, check=interrupt, check_every=2, **kw)
        resumed, h = sau_unlearn(world, "ȴ", PROMPTS, resume_from=Path(d)/unlearn.SAU_CHECKPOINT, **kw)
        with pytest.raises(ValueError, match="other settings"):
            sau_unlearn(world, "ȴ", PROMPTS, resume_from=Path(d)/unlearn.SAU_CHECKPOINT, **{**kw, "memory": "default"})
    assert [s["step"] for s in h["steps"]] == [0, 1, 2, 3]
    for a, b in zip(resumed.unet.state_dict().values(), full.unet.state_dict().values()): torch.testing.assert_close(a, b)
