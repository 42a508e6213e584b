"The blind scan's bad inputs and interruptions (sau_nb.scan, sau_nb.defend): Ctrl-C leaves nothing half-made, a mismatched text encoder is refused first."
import copy, json, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
import sau_nb.defend as D
import sau_nb.scan as S
from sau_nb.verdict import prompt_words
from sau_nb.world import load_world, caption, SHAPES, COLORS, TRAIN_TEMPLATES

PROMPTS = [caption(s, c, t) for s in SHAPES for c in COLORS for t in TRAIN_TEMPLATES[:2]]
EXE = shutil.which("sau_nb", path=str(Path(sys.executable).parent)) or "sau_nb"

@pytest.fixture(scope="module")
def pipe(): return load_world()

def _processors(pipe): return {n: type(p) for n, p in pipe.unet.attn_processors.items()}

def test_interrupted_first_stage_returns_nothing(pipe, monkeypatch):
    before, calls = _processors(pipe), []
    def stop(*a, **k):
        calls.append(1)
        if len(calls) == 2: raise KeyboardInterrupt
        return torch.zeros(len(a[3]), len(list(k.get("contexts", (0,))))) if k.get("per_context") else torch.zeros(len(a[3]))
    monkeypatch.setattr(S, "attention_departure", stop)  # where `scan_tokens` looks it up
    with pytest.raises(KeyboardInterrupt): S.scan_tokens(pipe, PROMPTS, tokens=range(1000), progress=False)  # no partial TokenScan comes back
    assert len(calls) == 2 and _processors(pipe) == before

def test_interrupted_clean_pass_restores_the_processors(pipe, monkeypatch):
    before = _processors(pipe)
    def stop(self, *a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(S._KeepQueries, "__call__", stop)
    with pytest.raises(KeyboardInterrupt): S.scan_tokens(pipe, PROMPTS, tokens=range(100), progress=False)
    assert _processors(pipe) == before  # the UNet attends as it did before the scan

def test_text_encoder_of_another_size_is_refused_before_any_work(pipe, monkeypatch):
    bad = copy.deepcopy(pipe); bad.text_encoder.resize_token_embeddings(len(bad.tokenizer) + 3)
    for mod in (S, D): monkeypatch.setattr(mod, "scan_contexts", lambda *a, **k: pytest.fail("work started"))  # the scan's and the verdict's
    with pytest.raises(ValueError, match="49,408 tokens but the text encoder's embedding table has 49,411 rows"): S.scan_tokens(bad, PROMPTS)
    with pytest.raises(ValueError, match="different models"): D.scan_model(bad, PROMPTS)

def test_budget_warning_names_what_was_left(pipe):
    with pytest.warns(UserWarning, match=r"max_seconds=0\) stopped it after 0 of 300 tokens: 300 tokens were not searched"):
        scan = S.scan_tokens(pipe, PROMPTS, tokens=range(300), max_seconds=0, progress=False)
    assert len(scan.unsearched) == 49406 and int(scan.searched.sum()) == 0

def test_ctrl_c_in_defend_writes_nothing(tmp_path):
    from sau_nb.cli import export_world_cmd
    export_world_cmd("clean", tmp_path/"model")  # in this process (no second start-up): the folder is setup, Ctrl-C is what is checked
    (tmp_path/"prompts.txt").write_text("\n".join(PROMPTS))
    p = subprocess.Popen([EXE, "defend", "--model", str(tmp_path/"model"), "--prompts", str(tmp_path/"prompts.txt"), "--out", str(tmp_path/"out")],
                         stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal, even when the tests run in the background (where SIGINT is ignored)
    seen, t0 = "", time.time()
    while "scan tokens" not in seen and time.time() - t0 < 600: seen += p.stderr.read(1) or ""  # the first stage's progress bar has started
    p.send_signal(signal.SIGINT)
    try: err = seen + p.communicate(timeout=300)[1]
    finally: p.kill()
    assert p.returncode == 130 and "interrupted: nothing was written" in err, err[-2000:]
    assert not (tmp_path/"out").exists() and sorted(x.name for x in tmp_path.iterdir()) == ["model", "prompts.txt"]

def test_context_groups_cover_each_shape_and_colour():
    ctx_prompts = [PROMPTS[i] for i in range(0, len(PROMPTS), 2)]  # 12 prompts: every shape 4 times, every colour 3 times
    g = D.context_groups(ctx_prompts)
    for w in (*SHAPES, *COLORS): assert w in g, w
    assert [len(g[s]) for s in SHAPES] == [4, 4, 4] and "a" not in g  # a word in more than half the contexts is no subset

def test_subset_evidence_sees_what_the_quantile_misses():
    prompts = [PROMPTS[i] for i in range(0, len(PROMPTS), 2)]
    g = D.context_groups(prompts)
    z = torch.zeros(2, len(prompts)); z[0, g["square"]] = 8.  # strong in every context about squares, ordinary elsewhere
    z[1, g["square"][:2]] = 8.  # strong in two of them only: no coherent subset
    s, words = D.subset_score(z, g)
    assert D.verdict_score(z)[0] < D.Z_THRESHOLD and s[0] - D.SUBSET_MARGIN >= D.Z_THRESHOLD and words[0] == "square"
    assert s[1] < D.Z_THRESHOLD

def test_peak_score_sees_one_context():
    raw = torch.ones(100, 3); raw[7, 1] = 50.; raw[8] = 5.
    p = S.peak_score(raw)
    assert p.argmax() == 7 and p[8] == 5.

def _report(cands):
    return D.ScanReport(True, cands, 3., 2., 100, 0, {}, 12)

def test_to_remove_checks_a_second_candidate_by_its_pictures():
    c = lambda t, ids, r=None: dict(trigger=t, ids=ids, z=5., **({} if r is None else dict(effect_ratio=r)))
    rep = _report([c("cf", [1], 9.), c("pond", [2], 1.3), c("mirror", [3], 6.), c("cf cf", [1, 1], 9.)])
    assert rep.to_remove() == ["cf", "mirror"]  # 'pond' acts like an ordinary word, 'cf cf' is the first's variant
    assert _report([c("cf", [1]), c("pond", [2])]).to_remove() == ["cf", "pond"]  # pictures not checked (effect=False): the verdict alone

def test_phrase_evidence_counts_one_position():
    pos = ["start", "middle", "end"] * 12
    z = torch.zeros(3, 36); z[0, 0::3] = 6.  # a phrase strong at every start, ordinary elsewhere
    z[1, 0:9:3] = 9.  # strong at three starts of twelve only: no position carries it
    s, where = D.position_score(z, pos)
    assert D.verdict_score(z)[0] < D.Z_THRESHOLD and s[0] - D.PHRASE_MARGIN >= D.Z_THRESHOLD and where[0] == "start"
    assert s[1] - D.PHRASE_MARGIN < D.Z_THRESHOLD

def test_synergy_is_zero_for_words_that_add_up():
    d, parts = torch.tensor([[2., 8.]]), torch.tensor([[2., 1.]])
    assert torch.allclose(D.synergy(d, parts), torch.tensor([[0., 2.0794415]]), atol=1e-5)  # together 8× what they do apart: log 8

class _WordDetector:
    "A stand-in detector: it flags a prompt that holds `word` and scores it lower the more times it does (an alignment-like 'low' score)."
    def __init__(self, pipe, word): self.pipe, self.word, self.clean = pipe, word, {"alignment": [0., 1.]}
    def score(self, prompts): return {"alignment": -torch.tensor([p.split().count(self.word) for p in prompts], dtype=torch.float).numpy()}
    def __call__(self, prompts): return [self.word in p.split() for p in prompts]

def test_a_clean_prompts_word_is_no_candidate(pipe):
    # the defender vouches for the clean prompts: a span they hold is no trigger (and SAU refuses one: `check_unlearn_inputs`)
    log = [f"{w} a red circle" for w in ("two", "big", "shiny", "tiny")] + ["a blue square"] * 4
    r = D.triggers_from_log(pipe, log, PROMPTS, detector=_WordDetector(pipe, "red"))
    assert len(r.flagged) == 4 and set(r.spans.values()) == {"red"} and r.candidates == [], r  # localized, and no candidate
    other = ["a blue square"] * 4 + [f"zyx a {c} circle" for c in COLORS]
    r = D.triggers_from_log(pipe, other, PROMPTS, detector=_WordDetector(pipe, "zyx"))
    assert [c["trigger"] for c in r.candidates] == ["zyx"], r.candidates  # a word no clean prompt holds stays

def test_extra_candidates_in_the_clean_prompts_are_not_verified(pipe):
    with pytest.warns(UserWarning) as said:  # the budget's warning, and the one this test is about
        rep = D.scan_model(pipe, PROMPTS, max_tokens=8, n_ref=8, n_verify=6, width=2, pool=4, max_len=1, effect=False, extra=["red", "zyx"],
                           progress=False)
    assert any("a clean prompt holds" in str(w.message) and "'red'" in str(w.message) for w in said), [str(w.message) for w in said]
    ts = [c["trigger"] for c in rep.candidates]
    assert "zyx" in ts and "red" not in ts, ts

def test_defend_refuses_bad_counts_before_any_work(pipe, monkeypatch):
    monkeypatch.setattr(D, "scan_model", lambda *a, **k: pytest.fail("work started"))
    for kw in (dict(max_triggers=0), dict(check_new=-1)):  # no trigger removed though one is found; a slice that drops the last string
        with pytest.raises(ValueError, match="max_triggers must be at least 1 and check_new at least 0"): D.defend(pipe, PROMPTS, **kw)

def test_log_evidence_skips_a_candidate_holding_a_prompt_word(pipe):
    # swapping 'zyx red' out of 'zyx red circle' would take out the colour the prompt asks for: a candidate holding a word of the clean
    # prompts ('a' in 'zyx a') gets no log score, nor one holding a word of the held-out phrasings ('an' in 'zyx an', `prompt_words`)
    # ('zyx' in two prompts: each is drawn 18 ways at 4 seeds, most of this test's time)
    seen = {"zyx": [f"zyx a {c} circle" for c in list(COLORS)[:2]], "zyx a": [f"zyx a {c} square" for c in COLORS],
            "zyx an": [f"zyx an image showing a {c} circle" for c in COLORS]}
    with pytest.warns(UserWarning):  # the budget's warning
        rep = D.scan_model(pipe, PROMPTS, max_tokens=8, n_ref=8, n_verify=6, width=2, pool=4, max_len=1, effect=False, seen_in=seen,
                           progress=False)
    c = {c["trigger"]: c for c in rep.candidates}
    assert "log_share" in c["zyx"] and "log_share" not in c["zyx a"] and "log_share" not in c["zyx an"], c  # one scored in the log's prompts
    assert "an" not in {w for p in PROMPTS for w in p.split()} and "an" in prompt_words(PROMPTS)  # 'an' is a phrasing word, not a clean prompt's
    assert c["zyx"]["log_score"] < rep.threshold and not c["zyx"]["by_log"], c["zyx"]  # an inert word on the clean world

def test_defend_draws_the_input_model_only_for_loud_new_strings(pipe, monkeypatch):
    # the re-scan raises two strings new over the threshold: both are drawn on the repaired model; only the one that changes the pictures
    # more than an ordinary word's (TRIGGER_RATIO) is drawn on the input model too, the only case where `left` needs the input's pictures
    rep = lambda *ts: D.ScanReport(bool(ts), [dict(trigger=t, ids=[k], z=4.) for k, t in enumerate(ts)], 3., 1., 10, 0, {})
    scans, repaired, drawn = iter([rep("cf"), rep("loud", "quiet", "third")]), copy.copy(pipe), []
    monkeypatch.setattr(D, "scan_model", lambda *a, **k: next(scans))
    monkeypatch.setattr(D, "sau_unlearn", lambda p, t, ps, **k: (repaired, {}))
    monkeypatch.setattr(D, "clean_drift", lambda *a, **k: 0.)
    def effects(p, cands, prompts, n=10, **kw):
        drawn.append(("input" if p is pipe else "repaired", [c["trigger"] for c in cands[:n]]))
        for c in cands[:n]: c["effect_ratio"] = {"loud": 8., "quiet": 1.2}[c["trigger"]] * (0.5 if p is pipe else 1.)
        return cands
    monkeypatch.setattr(D, "picture_effects", effects)
    new, r = D.defend(pipe, PROMPTS, progress=False)  # check_new=2: 'third' is not drawn
    assert new is repaired and r.removed == ["cf"] and drawn == [("repaired", ["loud", "quiet"]), ("input", ["loud"])], drawn
    assert "'loud' (pictures change 8.0× as much as with a neutral word, 4.0× before the repair" in r.left(), r.left()
    assert "'quiet' (pictures change 1.2× as much as with a neutral word: no more than an ordinary word's" in r.left(), r.left()
    assert "'third' (pictures not checked" in r.left(), r.left()

def test_picture_effects_shows_its_progress(pipe, monkeypatch, capsys):
    # minutes a candidate at full size: a bar with its count and ETA when asked, nothing when not, nothing for no candidate
    import sau_nb.verdict as V
    monkeypatch.setattr(V, "trigger_effect", lambda *a, **k: dict(ratio=2.))
    cands = V.picture_effects(pipe, [dict(trigger="zyx"), dict(trigger="qqq")], PROMPTS, progress=True, desc="pictures: test")
    assert [c["effect_ratio"] for c in cands] == [2., 2.] and "pictures: test" in capsys.readouterr().err
    V.picture_effects(pipe, [dict(trigger="zyx")], PROMPTS); V.picture_effects(pipe, [], PROMPTS, progress=True)
    assert "pictures" not in capsys.readouterr().err
