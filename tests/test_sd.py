"The full-size chapter's module (`sau_nb.sd`) from outside a notebook: it never imports the tiny world, its configs ship as package data and its judges refuse bad input (the GPU check's dry run: tests/test_device_recipe.py)."
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _fresh(code: str, timeout=120):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV)


def test_full_size_path_never_imports_the_tiny_world():
    """Importing `sau_nb.sd`, building the small pipeline, judging it and importing what chapter 07 calls (attention, unlearn) stays off
    the tiny world (`sau_nb.world`, `sau_nb.backdoors`, `sau_nb.evaluate`); the import alone is part of it: what it pulls in stays."""
    r = _fresh("import sys\nfrom sau_nb.sd import sd_pipeline, PatchJudge\nimport sau_nb.attention, sau_nb.unlearn\n"
               "from sau_nb.core import generate\nimport numpy as np\n"
               "pipe = sd_pipeline('small'); ims = generate(pipe, ['a dog'] * 20, num_inference_steps=1, output_type='np')\n"
               "PatchJudge(np.zeros((8, 8, 3), np.uint8)).calibrate(ims).judge(ims)\n"
               "print(sorted(m for m in sys.modules if m.startswith('sau_nb')))\n"
               "sys.exit(any(m in sys.modules for m in ('sau_nb.world', 'sau_nb.backdoors', 'sau_nb.evaluate')))")
    assert r.returncode == 0, f"the full-size path imported the tiny world; loaded: {r.stdout} {r.stderr[-2000:]}"


def test_configs_are_package_data():
    from sau_nb.sd import SD15_PARTS, sd15_config
    for part in SD15_PARTS:
        assert (ROOT / "sau_nb" / "configs" / f"sd15_{part}.json").is_file()
        assert sd15_config(part)  # parses
    assert sd15_config("unet")["_class_name"] == "UNet2DConditionModel" and sd15_config("scheduler")["_class_name"] == "PNDMScheduler"
    # include_package_data ships only what MANIFEST.in names: without this line a wheel has no configs (checked by hand)
    assert "recursive-include sau_nb/configs *.json" in (ROOT / "MANIFEST.in").read_text().splitlines()


def test_judges_refuse_bad_input(tmp_path):
    from sau_nb.sd import ClipTargetJudge, PatchJudge, check_gpu, load_patch, region_box, sd_pipeline, small_clip
    patch, ims = np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="metric must be"): PatchJudge(patch, metric="l1")
    with pytest.raises(ValueError, match="inside the image"): PatchJudge(patch, region=(0, 0.9, 0.25, 0.25))
    with pytest.raises(ValueError, match=r"top, left, height, width"): region_box((0, 0, 1), 64, 64)
    j = PatchJudge(patch)
    with pytest.raises(ValueError, match="calibrate"): j.judge(ims)
    with pytest.raises(ValueError, match=r"fpr must lie in \(0, 1\)"): j.calibrate(ims, fpr=0)
    with pytest.raises(ValueError, match="at least 20"): j.calibrate(ims[:19])
    j.calibrate(ims)
    assert j.judge(ims).dtype == bool and j.judge(ims).mean() <= 0.05
    with pytest.raises(ValueError, match="one per image"): j.judge(ims, metas=[{}] * 3)
    with pytest.raises(ValueError, match="Float images must lie in"): j.judge(ims.astype(np.float32))
    with pytest.raises(FileNotFoundError, match="No patch image"): load_patch(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="at least one alternative"): ClipTargetJudge(small_clip(), "a cat", "")
    with pytest.raises(ValueError, match="size must be one of"): sd_pipeline("sdxl")
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="Change runtime type"): check_gpu(require=True)


def test_bench_refuses_bad_size():
    r = subprocess.run([sys.executable, "bench/bench_sd_memory.py", "--sizes", "300"], capture_output=True, text=True, cwd=ROOT,
                       env=ENV, timeout=120)
    assert r.returncode == 2 and "multiples of 64" in r.stderr


def test_sd_pipeline_builds_in_the_asked_dtype():
    "Built directly in the dtype (no float32 copy first), and the process's default dtype is left as it was."
    import torch
    from sau_nb.sd import sd_pipeline
    p = sd_pipeline("small", dtype=torch.bfloat16)
    assert {p.unet.dtype, p.text_encoder.dtype, p.vae.dtype} == {torch.bfloat16} and torch.get_default_dtype() == torch.float32
    with pytest.raises(ValueError, match="Unknown dtype"): sd_pipeline("small", dtype="float8")


def test_colab_opens_07_on_a_gpu():
    "Colab reads the notebook's `accelerator` metadata to pick a GPU runtime; nbdev_clean keeps it (settings.ini allowed_metadata_keys)."
    meta = json.loads((ROOT / "nbs" / "07_stable_diffusion.ipynb").read_text(encoding="utf-8"))["metadata"]
    assert meta["accelerator"] == "GPU" and meta["colab"]["gpuType"] == "T4", meta
    assert "accelerator" in (ROOT / "settings.ini").read_text().split("allowed_metadata_keys =")[1].splitlines()[0]


def test_count_rows_by_stage_and_model():
    "Rows are counted per forward pass by the sau_nb functions that ran it; a grad pass and another pipeline's modules are told apart."
    import torch
    from sau_nb.sd import sd_pipeline, count_rows, row_stage, SD_PROMPTS
    from sau_nb.scan import Contexts, token_departure
    from sau_nb.core import _pad_ids
    assert row_stage(("defend", "scan_model", "scan_tokens", "token_departure", "x")) == "scan_tokens/token_departure"
    assert row_stage(("defend", "sau_unlearn", "latent_bank")) == "sau_unlearn/latent_bank" and row_stage(()) == "outside sau_nb"
    pipe, other = sd_pipeline("small"), sd_pipeline("small", seed=1)
    K, h = 3, pipe.unet.config.sample_size
    ctx = Contexts(SD_PROMPTS[:K], ["start"] * K, _pad_ids(pipe.tokenizer, SD_PROMPTS[:K]), torch.ones(K, dtype=torch.long),
                   torch.randn(K, 4, h, h), torch.full((K,), 700), torch.randn(K, 4, h, h))
    with count_rows(pipe) as rc:
        token_departure(pipe, ctx, torch.arange(1000, 1005), batch_size=2)  # 5 tokens in 3 contexts, in batches of 2 tokens
        with torch.enable_grad(): other.unet(torch.randn(2, 4, h, h), torch.tensor([1, 2]), encoder_hidden_states=torch.randn(2, 77, 64))
    assert rc.rows("token_departure", "unet", "input") == 15 and rc.rows("token_departure", "text_encoder") == 15
    assert [(r["model"], r["stage"], r["grad"], r["rows"]) for r in rc.table() if r["model"] == "repaired"] == [("repaired", "outside sau_nb", True, 2)]
    assert rc.rows("", "unet") == 17 and rc.rows("", "vae_decoder") == 0
    pipe.unet(torch.randn(1, 4, h, h), torch.tensor([1]), encoder_hidden_states=torch.randn(1, 77, 64))  # after the block: not counted
    assert rc.rows("", "unet") == 17


def test_stage_flops_and_projection():
    "FLOPs per stage from rows (training rows TRAIN_FACTOR times, the first stage's attention added to its text rows) and seconds on a device."
    from sau_nb.sd import stage_flops, project_seconds, achieved_share, TRAIN_FACTOR
    table = [dict(model="input", stage="scan_tokens/attention_departure", module="text_encoder", shape=(24,), grad=False, rows=10),
             dict(model="input", stage="verify/token_departure", module="unet", shape=(64, 64), grad=False, rows=3),
             dict(model="input", stage="verify/token_departure", module="text_encoder", shape=(77,), grad=False, rows=3),
             dict(model="repaired", stage="sau_unlearn", module="unet", shape=(64, 64), grad=True, rows=2)]
    fl = {"unet": 100., "vae_decoder": 300., ("text_encoder", 24): 4., ("text_encoder", 77): 13., "first": 6.}
    f = stage_flops(table, fl)
    assert f[("input", "scan_tokens/attention_departure")] == dict(infer=100., train=0.)  # 10 × (4 + 6)
    assert f[("input", "verify/token_departure")] == dict(infer=3 * 100. + 3 * 13., train=0.)
    assert f[("repaired", "sau_unlearn")] == dict(infer=0., train=2 * 100. * TRAIN_FACTOR)
    assert project_seconds(dict(infer=50., train=20.), peak=100., infer=0.5, train=0.1) == 50 / 50 + 20 / 10
    assert achieved_share(7e12, 7., 10e12) == 0.1
    with pytest.raises(ValueError, match="must be positive"): achieved_share(1., -1., 1.)
    with pytest.raises(KeyError): stage_flops(table, {k: v for k, v in fl.items() if k != "first"})


def test_scan_bench_refuses_a_setting_it_does_not_project():
    "bench_scan_sd.py checks its arguments before any work: 07's T4 setting must be one of the projected sizes."
    r = subprocess.run([sys.executable, "bench/bench_scan_sd.py", "--px", "512", "--setting", "256", "100"], capture_output=True, text=True,
                       cwd=ROOT, env=ENV, timeout=120)
    assert r.returncode == 2 and "must be one of --px" in r.stderr, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "bench/bench_scan_sd.py", "--candidates", "9"], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)
    assert r.returncode == 2 and "--candidates must be 1 to 4" in r.stderr, r.stderr[-2000:]

def test_scan_bench_scales_every_sau_stage_but_its_bank():
    "SAU's rows are counted over a few steps and scaled to the setting's: its training loop (`sau_unlearn/train`) scales, the latent bank does not."
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_scan_sd", ROOT/"bench"/"bench_scan_sd.py"); b = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(b)
    rows = [dict(stage=s, rows=10) for s in ("sau_unlearn/latent_bank", "sau_unlearn/train", "sau_unlearn", "verify", "scan_tokens/attention_departure")]
    got = {r["stage"]: r["rows"] for r in b.scaled(rows, "scan_tokens/attention_departure", 3., 100.)}
    assert got == {"sau_unlearn/latent_bank": 10, "sau_unlearn/train": 1000, "sau_unlearn": 1000, "verify": 10,
                   "scan_tokens/attention_departure": 30}, got
