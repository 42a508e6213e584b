"""LoRA files (issue 25): a backdoor delivered as a LoRA, read and merged by `load_lora` after its checks (pickle refused unless opted
in, every target module present with fitting shapes), written by `save_lora`; the LoRA zoo model; `inject_backdoor(params="lora")`."""
import json
import pytest, torch
from safetensors.torch import save_file
from sau_nb.core import LORA_FILE, check_lora, load_lora, lora_state_dict, lora_targets, read_lora, save_lora
from sau_nb.world import load_world, shipped_worlds, world_path
from sau_nb.backdoors import PixelAttack, TextEncoderAttack
from sau_nb.inject import inject_backdoor
from sau_nb.zoo import LORA_ZOO, shipped_zoo, zoo_attack
from sau_nb.unlearn import trainable_unet

@pytest.fixture(scope="module")
def world(): return load_world()

@pytest.fixture(scope="module")
def state(world):
    u, named = trainable_unet(world.unet, "lora", lora_rank=2)
    with torch.no_grad():
        for n, p in named.items():
            if "lora_B" in n: p.normal_(0, 0.05)
    return lora_state_dict(unet=u)

def test_round_trip_merges_the_adapters_and_leaves_the_base(world, state, tmp_path):
    save_lora(state, tmp_path/"l", meta=dict(by="test"))
    assert (tmp_path/"l"/LORA_FILE).is_file() and json.loads((tmp_path/"l"/"provenance.json").read_text()) == dict(by="test")
    before = {k: v.clone() for k, v in world.unet.state_dict().items()}
    p = load_lora(world, tmp_path/"l")
    assert all(torch.equal(v, before[k]) for k, v in world.unet.state_dict().items())  # the input is untouched
    changed = {k for k, v in p.unet.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(any(t in k for t in ("to_q", "to_k", "to_v", "to_out")) for k in changed)
    assert p.text_encoder is world.text_encoder  # a UNet-only LoRA shares the rest

def test_save_never_overwrites(state, tmp_path):
    save_lora(state, tmp_path/"l")
    with pytest.raises(FileExistsError, match="overwrite=True"): save_lora(state, tmp_path/"l")
    save_lora(state, tmp_path/"l", overwrite=True)

@pytest.mark.parametrize("name", ["pytorch_lora_weights.bin", "lora.pt", "adapter.ckpt"])
def test_pickle_lora_is_refused_unless_opted_in(world, state, tmp_path, name):
    torch.save(state, tmp_path/name)
    for where in (tmp_path/name, tmp_path):  # the file, or the folder that holds it
        with pytest.raises(ValueError, match="allow_pickle=True"): load_lora(world, where)
    p = load_lora(world, tmp_path/name, allow_pickle=True)
    assert any(not torch.equal(a, b) for a, b in zip(p.unet.parameters(), world.unet.parameters()))

def test_a_crafted_pickle_does_not_run_even_when_opted_in(world, tmp_path):
    marker = tmp_path/"ran"
    class Evil:
        def __reduce__(self): return (open, (str(marker), "w"))
    import pickle
    (tmp_path/"evil.bin").write_bytes(pickle.dumps({"unet.x.lora.down.weight": Evil()}))
    with pytest.raises(Exception): load_lora(world, tmp_path/"evil.bin", allow_pickle=True)
    assert not marker.exists()

def test_target_modules_that_do_not_exist_are_named(world, state, tmp_path):
    bad = {k.replace("attn2.to_k", "attn2.key_proj"): v for k, v in state.items()}
    save_file(bad, tmp_path/"other.safetensors")
    with pytest.raises(ValueError, match=r"does not have: .*attn2\.key_proj"): load_lora(world, tmp_path/"other.safetensors")
    with pytest.raises(ValueError, match="another model"): check_lora(world, {"unet.nowhere.lora.down.weight": torch.zeros(2, 4), "unet.nowhere.lora.up.weight": torch.zeros(4, 2)})

def test_adapters_of_the_wrong_shape_are_refused(world, state):
    k = next(k for k in state if k.endswith("lora_A.weight"))
    with pytest.raises(ValueError, match="do not fit its weight"): check_lora(world, {**state, k: torch.zeros(2, 999)})

def test_unknown_layouts_and_missing_files(world, tmp_path):
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(2, 2)}, tmp_path/"kohya.safetensors")
    with pytest.raises(ValueError, match="no layout"): load_lora(world, tmp_path/"kohya.safetensors")
    (tmp_path/"empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no LoRA weights"): load_lora(world, tmp_path/"empty")
    with pytest.raises(FileNotFoundError): load_lora(world, tmp_path/"nowhere")
    assert lora_targets({"unet.a.b.lora_A.weight": torch.zeros(1, 3), "unet.a.b.lora_B.weight": torch.zeros(3, 1)}) == {"unet": {"a.b": {"down": (1, 3), "up": (3, 1)}}}

def test_lora_attack_options_are_checked(world):
    with pytest.raises(ValueError, match="trigger_lr"): inject_backdoor(world, PixelAttack("sks"), params="lora", trigger_lr=1e-2, steps=1)
    with pytest.raises(ValueError, match="pixel, style or object"): inject_backdoor(world, TextEncoderAttack("sks"), params="lora", steps=1)
    with pytest.raises(ValueError, match="params must be"): inject_backdoor(world, PixelAttack("sks"), params="te", steps=1)

def test_lora_attack_returns_the_file_it_merged(world, tmp_path):
    new, h = inject_backdoor(world, PixelAttack("sks"), params="lora", lora_rank=2, steps=2, n_images=32, batch_size=4, progress=False)
    save_lora(h["lora"], tmp_path/"a")
    again = load_lora(world, tmp_path/"a")
    for a, b in zip(new.unet.parameters(), again.unet.parameters()): assert torch.allclose(a, b, atol=1e-5)

@pytest.mark.parametrize("name", list(LORA_ZOO))
def test_lora_zoo_model_is_only_a_lora_file(name, world):
    if name not in shipped_worlds(): pytest.skip(f"{name} is not shipped: sau_nb build-zoo --names {name} --ship")
    assert name in shipped_zoo(lora=True) and name not in shipped_zoo()
    files = sorted(p.name for p in world_path(name).iterdir())
    assert files == sorted([LORA_FILE, "provenance.json"]), files
    meta = json.loads((world_path(name)/"provenance.json").read_text())
    assert meta["command"] == f"sau_nb build-zoo --names {name} --seed 0 --ship" and meta["params"] == "lora" and meta["trigger"] == zoo_attack(name).trigger
    p = load_world(name)
    assert {k.split(".")[0] for k in read_lora(world_path(name))} == {"unet", "text_encoder"}  # adapters for both, the token embedding's among them
    assert any("token_embedding" in k for k in read_lora(world_path(name)))
    assert any(not torch.equal(a, b) for a, b in zip(p.unet.parameters(), world.unet.parameters()))
    assert read_lora(world_path(name)).keys() == read_lora(world_path(name)/LORA_FILE).keys()
