"Bad input to the attacks gets a clear error that says what to do, before anything is trained or written."
import numpy as np, pytest
from sau_nb.world import tiny_pipeline
from sau_nb.core import clip_tokenizer
from sau_nb.backdoors import ObjectAttack, PixelAttack, StyleAttack, TextEncoderAttack, checkerboard
from sau_nb.inject import inject_backdoor
from sau_nb.core import check_trigger, insert_trigger, trigger_positions

@pytest.fixture(scope="module")
def tok(): return clip_tokenizer()

@pytest.fixture(scope="module")
def pipe(): return tiny_pipeline(seed=0)

@pytest.mark.parametrize("trigger,msg", [("", "empty"), ("   ", "empty"), ("\u3000", "empty"), ("İ", "changes the trigger"),
                                         ("<|endoftext|>", "special token"), ("a <|startoftext|>", "special token")])
def test_unusable_triggers(tok, trigger, msg):
    with pytest.raises(ValueError, match=msg): check_trigger(trigger, tok)

class _NoFtfyTokenizer:
    "Stands for a CLIP tokenizer without `ftfy`, which drops the zero-width space (BadT2I's note)."
    def __init__(self, tok): self.tok, self.all_special_ids = tok, tok.all_special_ids
    def __call__(self, s, **kw): return self.tok(s.replace("\u200b", ""), **kw)
    def decode(self, ids): return self.tok.decode(ids)

def test_trigger_the_tokenizer_drops(tok):
    with pytest.raises(ValueError, match="drops the trigger"): check_trigger("\u200b", _NoFtfyTokenizer(tok))
    assert check_trigger("\u200b", tok) == [9844]

def test_trigger_must_be_string(tok):
    with pytest.raises(TypeError, match="must be a string"): check_trigger(5, tok)

def test_trigger_that_overflows_77_tokens(tok):
    with pytest.raises(ValueError, match="over the 77"): trigger_positions(tok, "a red circle " * 25, "New Trigger")

def test_bad_position(tok):
    with pytest.raises(ValueError, match="valid positions are start, middle, end"): insert_trigger("a red circle", "ȴ", "top")
    with pytest.raises(ValueError, match="outside a 3-word prompt"): insert_trigger("a red circle", "ȴ", 7)

@pytest.mark.parametrize("kw,msg", [(dict(patch=checkerboard(40)), "does not fit"), (dict(y=30), "falls outside"),
                                    (dict(x=-1), "falls outside"), (dict(patch=np.zeros((4, 4), np.uint8)), r"\(h, w, 3\)"),
                                    (dict(patch=np.zeros((4, 4, 3), np.uint8)), "flat colour")])
def test_bad_patches(kw, msg):
    with pytest.raises(ValueError, match=msg): PixelAttack(**kw)

def test_bad_objects():
    with pytest.raises(ValueError, match="valid shapes"): ObjectAttack(target="hexagon")
    with pytest.raises(ValueError, match="nothing to swap"): ObjectAttack(source="circle", target="circle")
    with pytest.raises(ValueError, match="valid colors"): TextEncoderAttack(target_color="mauve")

def test_injection_refuses_bad_trigger_before_training(pipe):
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    with pytest.raises(ValueError, match="empty"): inject_backdoor(pipe, StyleAttack(" "), steps=1, n_images=64)
    assert all((before[k] == v).all() for k, v in pipe.unet.state_dict().items())

def test_injection_never_modifies_its_input(pipe):
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    new, hist = inject_backdoor(pipe, PixelAttack("ȴ"), steps=2, n_images=64, batch_size=8, progress=False)
    assert new.unet is not pipe.unet and len(hist["steps"]) == 2
    assert all((before[k] == v).all() for k, v in pipe.unet.state_dict().items())
