"""Reliability (issue 7): same seed → same weights and metrics; interrupted + resumed = uninterrupted; checkpoints and
model folders from untrusted places never run code; saved folders load with plain diffusers and never replace their input.
All on the shipped tiny world with a few steps (about a minute on one CPU thread)."""
import hashlib, pickle, shutil
from types import SimpleNamespace
from pathlib import Path
import numpy as np, pytest, torch
import sau_nb.world as world_mod
from sau_nb.world import heldout_prompts, load_world, ship_world, tiny_pipeline
from sau_nb.core import generate, load_pipeline, save_pipeline
from sau_nb.backdoors import PixelAttack, TextEncoderAttack, attack_success_rate
from sau_nb.inject import INJECT_CHECKPOINT, inject_backdoor
from sau_nb.unlearn import sau_unlearn
from sau_nb.evaluate import removal_scores
from sau_nb.cli import export_world_cmd, unlearn_cmd

PROMPTS = ["a red circle", "a blue square"]
FEW_SAU = dict(steps=3, batch_size=4, n_seeds=1, progress=False)
FEW_INJECT = dict(steps=3, batch_size=4, n_images=64, progress=False)
SMALL_EVAL = [p for p in heldout_prompts() if p["shape"] == "circle"][:2]

@pytest.fixture(scope="module")
def world(): return load_world()

def weights(pipe): return {f"{c}.{k}": v for c in ("unet", "text_encoder") for k, v in getattr(pipe, c).state_dict().items()}
def same(a, b): return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
def arrays(images): return np.stack([np.asarray(im) for im in images])
def tree(folder): return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}

class _Evil:
    "Unpickling this writes `marker`: the code a pickle file can carry."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.write_text, (Path(self.marker), "pwned"))

# --- determinism -------------------------------------------------------------------------------------------------
def test_generate_same_seed_same_images(world):
    a = generate(world, PROMPTS, seeds=[0, 1], num_inference_steps=4)
    b = generate(world, PROMPTS, seeds=[0, 1], num_inference_steps=4)
    assert np.array_equal(arrays(a), arrays(b))
    assert not np.array_equal(arrays(a[:1]), arrays(a[1:2]))  # seeds 0 and 1 differ

def test_inject_same_seed_same_weights_and_metrics(world):
    atk = PixelAttack("ȴ")
    runs = [inject_backdoor(world, atk, seed=4, trigger_lr=1e-2, counter=0.5, **FEW_INJECT) for _ in range(2)]
    (a, ha), (b, hb) = runs
    assert same(weights(a), weights(b)) and not same(weights(a), weights(world))
    assert ha["steps"] == hb["steps"]  # every loss, bit for bit
    ra, rb = [attack_success_rate(p, atk, prompts=SMALL_EVAL, seeds=[0], num_inference_steps=4) for p in (a, b)]
    assert (ra["asr"], ra["false_trigger"]) == (rb["asr"], rb["false_trigger"])
    assert np.array_equal(arrays(ra["triggered_images"]), arrays(rb["triggered_images"]))
    c, _ = inject_backdoor(world, atk, seed=5, trigger_lr=1e-2, counter=0.5, **FEW_INJECT)
    assert not same(weights(a), weights(c))  # the seed matters

def test_sau_same_seed_same_weights_and_metrics(world):
    (a, ha), (b, hb) = [sau_unlearn(world, "ȴ", PROMPTS, seed=1, **FEW_SAU) for _ in range(2)]
    assert same(weights(a), weights(b)) and not same(weights(a), weights(world))
    assert ha["steps"] == hb["steps"]
    atk = PixelAttack("ȴ")
    score = lambda p: removal_scores(p, atk, seeds=[0], positions=("start",), prompts=SMALL_EVAL)
    assert score(a) == score(b)  # ASR, false triggering, clean accuracy

def test_sau_lora_same_seed_same_weights(world):
    "LoRA's adapters start random: `seed` must fix them too (they once came from torch's global generator)."
    (a, ha), (b, hb) = [sau_unlearn(world, "ȴ", PROMPTS, seed=1, params="lora", **FEW_SAU) for _ in range(2)]
    assert same(weights(a), weights(b)) and ha["steps"] == hb["steps"]

# --- interruption and resume ---------------------------------------------------------------------------------------
# (the UNet attack's interrupted-and-resumed test is in nbs/01_backdoors.ipynb, "Checkpoints and resume")
def test_inject_text_encoder_interrupted_and_resumed_equals_uninterrupted(world, tmp_path, monkeypatch):
    kw = dict(FEW_INJECT, steps=4, seed=3)
    atk = TextEncoderAttack("cf")
    full, hf = inject_backdoor(world, atk, **kw)
    orig, n = torch.optim.AdamW.step, [0]
    def killed_at_third_update(self, *a, **k):
        n[0] += 1
        if n[0] == 3: raise KeyboardInterrupt
        return orig(self, *a, **k)
    monkeypatch.setattr(torch.optim.AdamW, "step", killed_at_third_update)
    with pytest.raises(KeyboardInterrupt): inject_backdoor(world, atk, checkpoint_dir=tmp_path, checkpoint_every=2, **kw)
    monkeypatch.undo()
    res, hr = inject_backdoor(world, atk, resume_from=tmp_path/INJECT_CHECKPOINT, **kw)
    for k, v in weights(full).items(): torch.testing.assert_close(weights(res)[k], v, atol=1e-6, rtol=0)
    assert hr["steps"] == hf["steps"]

def test_resume_with_other_settings_is_refused(world, tmp_path):
    inject_backdoor(world, PixelAttack("ȴ"), checkpoint_dir=tmp_path, checkpoint_every=1, seed=0, **dict(FEW_INJECT, steps=1))
    with pytest.raises(ValueError, match="seed: 0 there, 1 here"):
        inject_backdoor(world, PixelAttack("ȴ"), resume_from=tmp_path/INJECT_CHECKPOINT, seed=1, **dict(FEW_INJECT, steps=1))
    with pytest.raises(ValueError, match="attack: 'pixel' there, 'text_encoder' here|other settings"):
        inject_backdoor(world, TextEncoderAttack("ȴ"), resume_from=tmp_path/INJECT_CHECKPOINT, seed=0, **dict(FEW_INJECT, steps=1))

@pytest.mark.parametrize("run", ["inject", "sau"])
def test_crafted_checkpoint_never_runs(world, tmp_path, run):
    marker, ckpt = tmp_path/"PWNED", tmp_path/"checkpoint.pt"
    torch.save({"format": "sau_nb-training-checkpoint-1", "x": _Evil(marker)}, ckpt)  # torch's own zip format, with a payload
    fn = (lambda: inject_backdoor(world, PixelAttack("ȴ"), resume_from=ckpt, **FEW_INJECT)) if run == "inject" else \
         (lambda: sau_unlearn(world, "ȴ", PROMPTS, resume_from=ckpt, **FEW_SAU))
    with pytest.raises(ValueError, match="none of its code ran"): fn()
    assert not marker.exists(), "resuming ran code from a checkpoint"

# --- loading: safetensors only ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("exported")
    export_world_cmd("style", d/"style")
    return d/"style"

def _pickled_copy(src, dst, marker):
    shutil.copytree(src, dst)
    for f in (dst/"unet").glob("*.safetensors"): f.unlink()
    (dst/"unet"/"diffusion_pytorch_model.bin").write_bytes(pickle.dumps({"x": _Evil(marker)}))
    return dst

def test_cli_unlearn_refuses_pickle_model_and_writes_nothing(exported, tmp_path):
    marker = tmp_path/"PWNED"
    evil = _pickled_copy(exported, tmp_path/"evil", marker)
    (tmp_path/"prompts.txt").write_text("a red circle\n")
    with pytest.raises(ValueError, match="can run arbitrary code.*allow_pickle=True"):
        unlearn_cmd(str(evil), "ȴ", str(tmp_path/"prompts.txt"), str(tmp_path/"out"), steps=1)
    assert not marker.exists() and not (tmp_path/"out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil", "prompts.txt"]  # no temporary folder either

def test_cli_unlearn_allow_pickle_loads_a_trusted_pickle_model(exported, tmp_path):
    "A model saved as pickle by its owner loads with --allow-pickle; the defended model is written as safetensors."
    from sau_nb.cli import main
    trusted = tmp_path/"trusted"
    load_pipeline(exported, device="cpu").save_pretrained(trusted, safe_serialization=False)
    assert (trusted/"unet"/"diffusion_pytorch_model.bin").is_file() and not list((trusted/"unet").glob("*.safetensors"))
    (tmp_path/"prompts.txt").write_text("a red circle\na blue square\n")
    args = ["unlearn", "--model", str(trusted), "--trigger", "ȴ", "--prompts", str(tmp_path/"prompts.txt"), "--steps", "1"]
    assert main(args + ["--out", str(tmp_path/"refused")]) == 2 and not (tmp_path/"refused").exists()
    assert main(args + ["--out", str(tmp_path/"out"), "--allow-pickle"]) == 3  # one step leaves the backdoor (exit 3): the model is written all the same
    assert list((tmp_path/"out").rglob("*.safetensors")) and not list((tmp_path/"out").rglob("*.bin"))
    load_pipeline(tmp_path/"out", device="cpu")  # safetensors: loads without the flag

@pytest.mark.parametrize("name", ["model.ckpt", "model.safetensors"])
def test_single_file_checkpoint_is_refused(tmp_path, name):
    marker = tmp_path/"PWNED"
    (tmp_path/name).write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(ValueError, match="single file" + (".*arbitrary code" if name.endswith(".ckpt") else "")):
        load_pipeline(tmp_path/name, device="cpu")
    assert not marker.exists()

# --- saving: atomic, never over the input, loads with plain diffusers -------------------------------------------------------
def test_exported_and_defended_folders_load_with_plain_diffusers(exported, tmp_path):
    from diffusers import StableDiffusionPipeline
    before = tree(exported)
    plain = StableDiffusionPipeline.from_pretrained(str(exported)); plain.set_progress_bar_config(disable=True)
    ours = load_world("style")
    a, b = [arrays(generate(p, "ȴ a red circle", seeds=[0], num_inference_steps=4)) for p in (plain, ours)]
    assert np.array_equal(a, b)  # the export is the shipped zoo model, exactly
    (tmp_path/"prompts.txt").write_text("a red circle\na blue square\n")
    from sau_nb.cli import NotRemoved
    with pytest.raises(NotRemoved, match="written to"):  # one step does not remove the backdoor, and the command says so; it writes the model
        unlearn_cmd(str(exported), "ȴ", str(tmp_path/"prompts.txt"), str(tmp_path/"defended"), steps=1)
    defended = StableDiffusionPipeline.from_pretrained(str(tmp_path/"defended"))
    assert not same(weights(defended), weights(plain))
    assert tree(exported) == before  # the input model is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["defended", "prompts.txt"]

def test_save_pipeline_never_writes_into_the_folder_it_loaded_from(exported):
    pipe = load_pipeline(exported, device="cpu")
    before = tree(exported)
    for target in (exported, exported/"sub", exported.parent):
        with pytest.raises(ValueError, match="never overwrites the input model"): save_pipeline(pipe, target, overwrite=True)
    assert tree(exported) == before

def test_ship_world_is_atomic_and_loads_with_plain_diffusers(tmp_path, monkeypatch):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    monkeypatch.setattr(world_mod, "WEIGHTS_DIR", tmp_path)
    pipe = tiny_pipeline(seed=0)
    out = ship_world(pipe, "clean", dict(note="test"))
    assert (out/"provenance.json").exists() and not (out/"tokenizer").exists()
    plain = StableDiffusionPipeline.from_pretrained(str(out), tokenizer=pipe.tokenizer)
    assert torch.equal(plain.unet.conv_in.weight, pipe.unet.conv_in.weight.half())
    ship_world(pipe, "zoo1", dict(note="v1"), components=("unet",), token_rows=[9844])
    before = tree(tmp_path/"zoo1")
    class Broken(torch.nn.Module):  # a component whose save fails half-way
        def save_pretrained(self, d, **k): Path(d).mkdir(parents=True); (Path(d)/"half.safetensors").write_bytes(b"x"); raise OSError("disk full")
    broken = SimpleNamespace(unet=Broken())
    with pytest.raises(OSError, match="disk full"): ship_world(broken, "zoo1", dict(note="v2"), components=("unet",))
    assert tree(tmp_path/"zoo1") == before  # the old model is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "zoo1"]  # no temporary folder left
    UNet2DConditionModel.from_pretrained(str(tmp_path/"zoo1"/"unet"), use_safetensors=True)

def test_custom_code_in_a_model_folder_never_runs(exported, tmp_path):
    "A model_index.json that names a Python module shipped in the folder: diffusers refuses it (trust_remote_code=False)."
    import json
    marker, m = tmp_path/"PWNED", tmp_path/"m"
    shutil.copytree(exported, m)
    code = f"open({str(marker)!r}, 'w').write('x')\nfrom diffusers import UNet2DConditionModel\nclass EvilUNet(UNet2DConditionModel): pass\n"
    for f in (m/"evil_unet.py", m/"unet"/"evil_unet.py"): f.write_text(code)
    mi = json.loads((m/"model_index.json").read_text()); mi["unet"] = ["evil_unet", "EvilUNet"]
    (m/"model_index.json").write_text(json.dumps(mi))
    with pytest.raises(ValueError, match="trust_remote_code"): load_pipeline(m, device="cpu")
    assert not marker.exists()

def test_use_safetensors_false_needs_the_pickle_opt_in(exported, tmp_path):
    "A folder with both formats: asking for the pickle copy is refused without allow_pickle, and the pickle never runs."
    marker, m = tmp_path/"PWNED", tmp_path/"m"
    shutil.copytree(exported, m)
    (m/"unet"/"diffusion_pytorch_model.bin").write_bytes(pickle.dumps({"x": _Evil(marker)}))
    with pytest.raises(ValueError, match="use_safetensors=False.*allow_pickle=True"): load_pipeline(m, device="cpu", use_safetensors=False)
    pipe = load_pipeline(m, device="cpu")  # the default reads the safetensors beside it
    assert not marker.exists() and pipe.unet is not None
