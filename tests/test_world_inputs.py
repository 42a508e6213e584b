"Bad input to the tiny world gets a clear error that says what to do (DESIGN §6); nothing is written or lost."
import os, pickle, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from sau_nb.world import COLORS, SHAPES, caption, load_world, make_shapes, read_attributes, render, tiny_pipeline
from sau_nb.core import check_prompts, clip_tokenizer, generate, get_device, load_pipeline, save_pipeline, to_uint8

@pytest.fixture(scope="module")
def pipe(): return tiny_pipeline(seed=0)

@pytest.fixture(scope="module")
def saved(pipe, tmp_path_factory):
    return save_pipeline(pipe, tmp_path_factory.mktemp("models")/"tiny")

@pytest.mark.parametrize("fn", [lambda: render("hexagon", "red"), lambda: caption("hexagon", "red"),
                                lambda: make_shapes(4, shapes=("circle", "hexagon"))])
def test_unknown_shape_lists_valid_ones(fn):
    with pytest.raises(ValueError, match="valid shapes are circle, square, triangle"): fn()

@pytest.mark.parametrize("fn", [lambda: render("circle", "mauve"), lambda: caption("circle", "mauve"),
                                lambda: make_shapes(4, colors=("mauve",))])
def test_unknown_color_lists_valid_ones(fn):
    with pytest.raises(ValueError, match="valid colors are red, green, blue, yellow"): fn()

def test_empty_and_non_string_prompts(pipe):
    with pytest.raises(ValueError, match="No prompts"): generate(pipe, [])
    with pytest.raises(ValueError, match="No prompts"): check_prompts(())
    with pytest.raises(TypeError, match="must be strings"): check_prompts(["a red circle", 3])
    with pytest.raises(ValueError, match="No seeds"): generate(pipe, "a red circle", seeds=[])

def test_prompt_over_77_tokens_is_refused_not_truncated(pipe):
    long = "a red circle " + "very " * 80
    with pytest.raises(ValueError, match="over the 77 the text encoder accepts"): generate(pipe, [long])
    assert check_prompts(["a red circle " + "very " * 60])  # 75 tokens with start and end: fits

def test_images_of_wrong_shape_or_range():
    with pytest.raises(ValueError, match=r"\(n, h, w, 3\)"): read_attributes(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"): read_attributes(np.full((1, 32, 32, 3), -1.0))
    with pytest.raises(ValueError, match="No images"): to_uint8([])
    assert to_uint8(np.ones((32, 32, 3))).dtype == np.uint8

def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="Unknown device"): get_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"): get_device("cuda")

def test_unknown_world_lists_available():
    with pytest.raises(ValueError, match="available are .*clean"): load_world("no-such-model")

def test_save_never_overwrites_unless_told(pipe, saved, tmp_path):
    before = sorted(p.relative_to(saved) for p in saved.rglob("*"))
    with pytest.raises(FileExistsError, match="overwrite=True"): save_pipeline(pipe, saved)
    assert sorted(p.relative_to(saved) for p in saved.rglob("*")) == before
    assert not [p for p in saved.parent.iterdir() if ".tmp-" in p.name]  # no temporary folder left behind
    assert not list(saved.rglob("*.bin")) and list(saved.rglob("*.safetensors"))

def test_load_folder_with_missing_parts(saved, tmp_path):
    broken = tmp_path/"broken"; shutil.copytree(saved, broken); shutil.rmtree(broken/"unet")
    with pytest.raises(FileNotFoundError, match="missing: unet"): load_pipeline(broken, device="cpu")

class _Evil:
    "Unpickling this runs `open(marker, 'w')`: the attack a pickle checkpoint can carry."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (open, (self.marker, "w"))

def test_pickle_checkpoint_is_refused_and_never_executed(saved, tmp_path):
    evil = tmp_path/"evil"; shutil.copytree(saved, evil)
    marker = tmp_path/"PWNED"
    for f in (evil/"unet").glob("*.safetensors"): f.unlink()
    with open(evil/"unet"/"diffusion_pytorch_model.bin", "wb") as fh: pickle.dump({"x": _Evil(str(marker))}, fh)
    with pytest.raises(ValueError, match="allow_pickle=True"): load_pipeline(evil, device="cpu")
    assert not marker.exists(), "loading ran code from a pickle file"

def test_tokenizer_matches_open_clip_on_triggers():
    import open_clip
    tok = clip_tokenizer()
    for p in ["\u200b a red circle", "a ȴ blue square", "New Trigger a green triangle", "a yellow circle \u200b"]:
        ours = tok(p).input_ids
        assert ours == open_clip.tokenize([p])[0].tolist()[:len(ours)], p
