"""The published recipes (issue 24): `recipe="published"` presets of SKD-CAG and attention re-steering, and the options of
`sau_unlearn` they need (EMA, a constant learning rate) and the hooks that carry their own pieces (`NoisePairs`: pure-noise latents,
`trigger_attention_norm`: Forget-Me-Not's norm). A few steps on the tiny world."""
import pytest, torch
import sau_nb.baselines as B
from sau_nb.world import load_world
from sau_nb.unlearn import sau_unlearn

PROMPTS = ["a red circle", "a blue square"]
FEW = dict(steps=1, batch_size=2, n_seeds=1, progress=False, te_params=None, trigger_lr=0.)

@pytest.fixture(scope="module")
def world(): return load_world()

@pytest.mark.parametrize("name", ["skd_cag", "resteer"])
def test_published_preset_passes_the_released_settings_and_yields_to_the_caller(monkeypatch, name):
    got = {}
    monkeypatch.setattr(B, "sau_unlearn", lambda pipe, trigger, prompts, **kw: got.update(kw))
    getattr(B, name)(None, "ȴ", PROMPTS, recipe="published", steps=7)
    assert {k: v for k, v in got.items() if k in B.PUBLISHED[name] and k != "steps"} == {k: v for k, v in B.PUBLISHED[name].items() if k != "steps"}
    assert got["steps"] == 7 and got["attn_scope"] == "trigger" and got["w_keep"] == 0.
    got.clear(); getattr(B, name)(None, "ȴ", PROMPTS)  # the chapter's shape: none of the released settings
    assert "schedule" not in got and "batch_size" not in got

def test_unknown_recipe_is_refused(world):
    with pytest.raises(ValueError, match="recipe must be 'shape'"): B.skd_cag(world, "ȴ", PROMPTS, recipe="paper")

def test_published_loops_run(world):
    for fn in (B.skd_cag, B.resteer):
        _, h = fn(world, "ȴ", PROMPTS, recipe="published", steps=2, n_seeds=1, progress=False)
        assert len(h["steps"]) == 2 and all(torch.isfinite(torch.tensor(s["loss"])) for s in h["steps"])
    assert h["steps"][0]["attn"] > 0 and h["steps"][0]["loss"] == pytest.approx(h["steps"][0]["attn"])  # the loss is the norm of the trigger's attention, nothing else

def test_ema_returns_the_average(world):
    "One update with ema: the result is decay · start + (1 − decay) · trained, decay = min(ema, 1/10)."
    plain, _ = sau_unlearn(world, "ȴ", PROMPTS, **FEW)
    avg, _ = sau_unlearn(world, "ȴ", PROMPTS, ema=0.5, **FEW)
    p0, p1, pa = (dict(p.unet.named_parameters()) for p in (world, plain, avg))
    moved = [n for n in p0 if not torch.equal(p0[n], p1[n])]
    assert moved
    for n in moved: torch.testing.assert_close(pa[n], 0.1 * p0[n] + 0.9 * p1[n], rtol=1e-5, atol=1e-7)

@pytest.mark.parametrize("bad, match", [(dict(latents="pixels"), "latents must be"), (dict(schedule="linear"), "schedule must be 'cosine'"),
                                        (dict(attn_loss="l1"), "attn_loss must be 'mse' or 'norm'"), (dict(latents="noise"), "w_keep=0"),
                                        (dict(sampler=B.NoisePairs, focus=1.), "w_keep=0, focus=0"),
                                        (dict(ema=1.), "ema must be in"), (dict(ema=0.9, checkpoint_dir="x"), "not checkpointed")])
def test_bad_recipe_options_are_refused(world, bad, match):
    with pytest.raises(ValueError, match=match): sau_unlearn(world, "ȴ", PROMPTS, **{**FEW, **bad})

@pytest.mark.parametrize("old, hook", [(dict(latents="noise", w_keep=0.), dict(sampler=B.NoisePairs, w_keep=0.)),
                                       (dict(attn_loss="norm", attn_scope="trigger"), dict(attn_term=B.trigger_attention_norm, attn_scope="trigger"))])
def test_old_recipe_keywords_are_the_hooks_bit_for_bit(world, old, hook):
    "The old flat keywords (`latents=\"noise\"`, `attn_loss=\"norm\"`) name the baselines' hooks: the same run, the same weights and losses."
    (a, ha), (b, hb) = (sau_unlearn(world, "ȴ", PROMPTS, **{**FEW, "steps": 2, **kw}) for kw in (old, hook))
    assert [s["loss"] for s in ha["steps"]] == [s["loss"] for s in hb["steps"]]
    assert all(torch.equal(p, q) for p, q in zip(a.unet.parameters(), b.unet.parameters()))
