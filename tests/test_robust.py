"""Robustness tools (issue 25): `finetune` (a user's clean fine-tune), `relearning` (the backdoor measured along it), and the
adaptive attack's option `poison_max_t`. A few steps on the tiny world."""
import pytest, torch
from sau_nb.world import load_world, heldout_prompts
from sau_nb.backdoors import PixelAttack
from sau_nb.inject import inject_backdoor
from sau_nb.zoo import zoo_attack
from sau_nb.robust import FINETUNE, finetune, relearning

@pytest.fixture(scope="module")
def world(): return load_world()

def weights(m): return torch.cat([v.flatten() for v in m.state_dict().values()])

@pytest.mark.parametrize("params", list(FINETUNE))
def test_finetune_changes_a_copy_of_the_unet_only(world, params):
    u0, t0 = weights(world.unet).clone(), weights(world.text_encoder).clone()
    new, h = finetune(world, 2, params=params, n_images=32, batch_size=4, progress=False)
    assert torch.equal(weights(world.unet), u0) and torch.equal(weights(world.text_encoder), t0)  # the input is untouched
    assert all(p.grad is None for p in world.text_encoder.parameters())  # and no gradient reached it
    assert not torch.equal(weights(new.unet), u0) and new.text_encoder is world.text_encoder
    assert not any("lora" in n for n, _ in new.unet.named_parameters()) and len(h["loss"]) == 2

def test_finetune_is_reproducible(world):
    a, _ = finetune(world, 2, params="lora", n_images=32, batch_size=4, progress=False, seed=3)
    b, _ = finetune(world, 2, params="lora", n_images=32, batch_size=4, progress=False, seed=3)
    assert torch.equal(weights(a.unet), weights(b.unet))

def test_relearning_measures_at_each_step(world):
    rows = relearning(load_world("pixel"), zoo_attack("pixel"), steps=(1, 2), seeds=range(1), prompts=heldout_prompts()[:2], n_images=32, batch_size=4)
    assert [r["step"] for r in rows] == [0, 1, 2] and rows[0]["asr_start"] == 1.0  # the zoo's pixel backdoor, before any fine-tune

def test_bad_settings(world):
    with pytest.raises(ValueError, match="params must be one of"): finetune(world, 1, params="text_encoder")
    with pytest.raises(ValueError, match="at least 1"): finetune(world, 0)
    with pytest.raises(ValueError, match="positive step counts"): relearning(world, zoo_attack("pixel"), steps=(0, 5))
    with pytest.raises(ValueError, match="poison_max_t must be a timestep"): inject_backdoor(world, PixelAttack("ʘ"), poison_max_t=-1, steps=1)
    with pytest.raises(ValueError, match="UNet attacks"): inject_backdoor(world, zoo_attack("text_encoder"), poison_max_t=400, steps=1)

def test_low_noise_attack_trains(world):
    _, h = inject_backdoor(world, PixelAttack("ʘ"), poison_max_t=400, trigger_lr=1e-2, steps=2, n_images=32, batch_size=8, progress=False)
    assert len(h["steps"]) == 2 and all(torch.isfinite(torch.tensor(s["loss"])) for s in h["steps"])
