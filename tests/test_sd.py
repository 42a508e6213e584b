"The full-size chapter's module (`sau_nb.sd`) from outside a notebook: it never imports the tiny world, its configs ship as package data and its judges refuse bad input (the GPU check's dry run: tests/test_device_recipe.py)."
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _fresh(code: str, timeout=120):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV)


def test_sd_never_imports_the_tiny_world():
    r = _fresh("import sys, sau_nb.sd; print(sorted(m for m in sys.modules if m.startswith('sau_nb')))\n"
               "sys.exit('sau_nb.world' in sys.modules)")
    assert r.returncode == 0, f"import sau_nb.sd imported sau_nb.world; loaded: {r.stdout} {r.stderr[-2000:]}"


def test_full_size_path_never_imports_the_tiny_world():
    "Building the small pipeline, judging it and importing what chapter 07 calls (attention, unlearn) stays off `sau_nb.world`."
    r = _fresh("import sys\nfrom sau_nb.sd import sd_pipeline, PatchJudge\nimport sau_nb.attention, sau_nb.unlearn\n"
               "from sau_nb.core import generate\nimport numpy as np\n"
               "pipe = sd_pipeline('small'); ims = generate(pipe, ['a dog'] * 20, num_inference_steps=1, output_type='np')\n"
               "PatchJudge(np.zeros((8, 8, 3), np.uint8)).calibrate(ims).judge(ims)\n"
               "print(sorted(m for m in sys.modules if m.startswith('sau_nb')))\nsys.exit('sau_nb.world' in sys.modules)")
    assert r.returncode == 0, f"the full-size path imported sau_nb.world; loaded: {r.stdout} {r.stderr[-2000:]}"


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
