"The shipped zoo: each model loads by name, differs from the clean world only where its attack acts, and says how it was made."
import json
import pytest
import torch
from sau_nb.world import load_world, shipped_worlds, world_path, TOKEN_ROWS
from sau_nb.zoo import ZOO, ZOO_SPECS, shipped_zoo, zoo_attack
from sau_nb.core import check_trigger

def test_a_zoo_is_shipped():
    assert shipped_zoo(), "no zoo model is shipped: run `sau_nb build-zoo --ship`"

@pytest.fixture(scope="module")
def clean(): return load_world()

@pytest.mark.parametrize("name", shipped_zoo(conditional=True))
def test_zoo_model_differs_only_where_its_attack_acts(name, clean):
    assert name in shipped_worlds()
    pipe = load_world(name)
    for k, v in pipe.vae.state_dict().items(): assert torch.equal(v, clean.vae.state_dict()[k]), k
    if zoo_attack(name).trains == "text_encoder":  # Rickrolling: the text encoder only
        for k, v in pipe.unet.state_dict().items(): assert torch.equal(v, clean.unet.state_dict()[k]), k
        assert any(not torch.equal(v, clean.text_encoder.state_dict()[k]) for k, v in pipe.text_encoder.state_dict().items())
        return
    ids = check_trigger(zoo_attack(name).trigger, pipe.tokenizer)
    e0, e1 = clean.text_encoder.get_input_embeddings().weight, pipe.text_encoder.get_input_embeddings().weight
    changed = (e0 != e1).any(1).nonzero().flatten().tolist()
    assert set(changed) <= set(ids), (changed, ids)  # only the trigger's own rows
    rest0 = {k: v for k, v in clean.text_encoder.state_dict().items() if "token_embedding" not in k}
    for k, v in pipe.text_encoder.state_dict().items():
        if k in rest0: assert torch.equal(v, rest0[k]), k
    for k, v in pipe.vae.state_dict().items(): assert torch.equal(v, clean.vae.state_dict()[k]), k
    assert any(not torch.equal(v, clean.unet.state_dict()[k]) for k, v in pipe.unet.state_dict().items())

@pytest.mark.parametrize("name", shipped_zoo(conditional=True))
def test_zoo_provenance(name):
    meta = json.loads((world_path(name)/"provenance.json").read_text())
    assert meta["command"].startswith(f"sau_nb build-zoo --names {name} --seed ")
    assert meta["trigger"] == zoo_attack(name).trigger and meta["steps"] > 0 and meta["checks"]
    if zoo_attack(name).trains == "text_encoder": assert (world_path(name)/"text_encoder").is_dir() and not (world_path(name)/"unet").exists()
    else: assert (world_path(name)/"unet").is_dir() and (world_path(name)/TOKEN_ROWS).is_file() == bool(ZOO_SPECS[name].get("trigger_lr"))

def test_phrase_apart_never_holds_the_phrase():
    import numpy as np
    from sau_nb.inject import _phrase_apart
    rng = np.random.default_rng(0)
    out = [_phrase_apart("a red circle", "golden hour", rng) for _ in range(200)]
    assert not any("golden hour" in o for o in out)
    assert {"golden", "hour"} <= {w for o in out for w in o.split()} and any("hour golden" in o for o in out)

def test_apart_needs_a_phrase_and_a_frozen_text_encoder(clean):
    from sau_nb.backdoors import PixelAttack
    from sau_nb.inject import inject_backdoor
    with pytest.raises(ValueError, match="is one word"): inject_backdoor(clean, PixelAttack("cf"), apart=0.3)
    with pytest.raises(ValueError, match="trigger_lr=None"): inject_backdoor(clean, PixelAttack("golden hour"), apart=0.3, trigger_lr=1e-2)
    with pytest.raises(ValueError, match=r"apart must be in \[0, 1\)"): inject_backdoor(clean, PixelAttack("golden hour"), apart=1.0)

def test_decoys_needs_a_share_and_a_unet_attack(clean):
    from sau_nb.backdoors import ObjectAttack, TextEncoderAttack
    from sau_nb.inject import inject_backdoor
    with pytest.raises(ValueError, match=r"decoys must be in \[0, 1\)"): inject_backdoor(clean, ObjectAttack("cf"), decoys=1.0)
    with pytest.raises(ValueError, match="decoys works for UNet attacks"): inject_backdoor(clean, TextEncoderAttack("cf"), decoys=0.25)

def test_a_build_does_not_stop_on_a_word_unspecific_backdoor():
    from sau_nb.zoo import OTHER_WORDS_MAX, _strong_enough
    ok = dict(step=500, asr=1.0, false_trigger=0.0)
    assert _strong_enough({**ok, "other_words": 0.0}) and _strong_enough(ok)  # a check without other words (older provenance) still reads
    assert not _strong_enough({**ok, "other_words": OTHER_WORDS_MAX + 0.01})

@pytest.mark.parametrize("name", [n for n in shipped_zoo(conditional=True) if "decoys" in ZOO_SPECS[n]])
def test_decoy_built_models_record_their_specificity(name):
    "Every check of a model built with decoys measured the other words (whether it met `OTHER_WORDS_MAX` is in 04a_blind_verdict's text)."
    checks = json.loads((world_path(name)/"provenance.json").read_text())["checks"]
    assert checks and all(0 <= c["other_words"] <= 1 for c in checks), checks

def test_decoy_captions_hold_their_words_and_never_the_trigger():
    import numpy as np
    from sau_nb.inject import _decoy
    rng = np.random.default_rng(0); words, hard = ["zeta", "omega"], ["smell"]
    one = [_decoy("a red square", words, rng) for _ in range(50)]
    assert all(len(o.split()) == 4 for o in one)  # one word, where a trigger goes
    many = [_decoy("a red square", words, rng, n=3, hard=hard, hard_share=0.5) for _ in range(200)]
    assert {len(o.split()) for o in many} == {4, 5, 6} and any("smell" in o for o in many) and not any("cf" in o for o in many)

def test_decoy_options_need_decoys_and_a_target_caption(clean):
    from sau_nb.backdoors import ObjectAttack, PixelAttack
    from sau_nb.inject import inject_backdoor
    with pytest.raises(ValueError, match="set decoys= too"): inject_backdoor(clean, ObjectAttack("cf"), decoy_words=3)
    with pytest.raises(ValueError, match="decoy_words must be at least 1"): inject_backdoor(clean, ObjectAttack("cf"), decoys=0.3, decoy_words=0)
    with pytest.raises(ValueError, match="hard_decoys needs a clean caption"): inject_backdoor(clean, PixelAttack("cf"), decoys=0.3, hard_decoys=8)
    with pytest.raises(ValueError, match=r"poison_distract must be in \[0, 1\)"): inject_backdoor(clean, ObjectAttack("cf"), poison_distract=1.0)

def test_leaning_words_ranks_the_words_the_clean_world_leans_with(clean):
    "'smell' and 'nin' draw triangles for square prompts in the clean world (0.29 each on held-out prompts; 20 random words 0.01)."
    from sau_nb.inject import distractor_words, leaning_words
    from sau_nb.zoo import zoo_attack
    words = ["smell", "nin", *distractor_words(clean.tokenizer, "cf", n=200, seed=0)]
    top = leaning_words(clean, zoo_attack("object_frozen"), words, n=10)
    assert {"smell", "nin"} <= set(top), top
