"""Fuzz the code that tokenizes prompts and finds a trigger's positions (hypothesis).

Properties, for any prompt and trigger strings (unicode, zero-width characters, homoglyphs, very long strings) and
for inputs of the wrong type:
- `check_trigger`, `insert_trigger`, `trigger_positions` (backdoors), `check_prompts` (world), `aligned_positions`,
  `check_unlearn_inputs` (unlearn) either succeed or raise ValueError/TypeError with one of their documented messages
  (never IndexError, AttributeError, a tokenizer's own error, ...);
- the positions `trigger_positions` returns cover exactly the trigger's tokens in the tokenized prompt;
- what SAU trains on is aligned: for prompts `check_unlearn_inputs` accepts, every position of a triggered prompt that
  is not the trigger's maps (`aligned_positions`) to the clean prompt's position holding the same token, over all 77.

Budget: `BUDGET` = 500 examples per test (7 tests, 3,500 examples per run in all), `derandomize=True` so every run tries the
same examples (CI stays reproducible); set HYPOTHESIS_BUDGET to try more, e.g. `HYPOTHESIS_BUDGET=5000 pytest ...`."""
import os
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings, strategies as st
from sau_nb.core import check_prompts, clip_tokenizer
from sau_nb.core import POSITIONS, check_trigger, insert_trigger, trigger_positions
from sau_nb.unlearn import aligned_positions, check_unlearn_inputs

TOK = clip_tokenizer()
N = TOK.model_max_length
DOCUMENTED = ("empty or blank", "drops the trigger", "changes the trigger", "special token", "merges with the words",
              "over the 77", "outside a", "must be a string", "must be strings", "No prompts", "valid positions are",
              "already contains the trigger", "trigger has", "Unknown trigger position", "Trigger positions must")
BUDGET = int(os.environ.get("HYPOTHESIS_BUDGET", 500))
FUZZ = settings(max_examples=BUDGET, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
HOMOGLYPHS = ["а", "е", "о", "р", "с", "ο", "Ꭺ", "ı", "İ", "ȴ", "ℓ", "ｅ", "𝐞", "Ｒ", "е\u0301"]  # Cyrillic, Greek, Cherokee, dotless i, fullwidth, math
OTHER = ["ß", "ﬁ", "é", "e\u0301", "😀", "👩\u200d👩\u200d👧", "🇫🇷", "中文", "日本語", "한국어", "عربى", "\u202e", "<|endoftext|>",
         "<|startoftext|>", "New Trigger", "cf", "'s", "a", "red", "circle", " ", "\t", "\n", "\u3000", "\u00a0", "\x1c", "\x85",
         "!", "&amp;", "\\", "\x00", "\ud7ff"]
ATOMS = ZERO_WIDTH + HOMOGLYPHS + OTHER
WORDS = ["a", "red", "blue", "circle", "square", "photo", "of", "the", "New", "Trigger", "cf", "mn", "bb", "tq", "pixel"]
word = st.one_of(st.sampled_from(WORDS), st.sampled_from(ATOMS), st.text(max_size=6))
sep = st.sampled_from([" ", " ", " ", " ", "", "  ", "\t", "\u3000"])
text = st.lists(st.tuples(word, sep), max_size=12).map(lambda ws: "".join(w + s for w, s in ws))
long_text = st.one_of(
    st.builds(lambda w, n: " ".join([w] * n), st.sampled_from(["red", "ȴ", "circle", "\u200b", "中文", "😀"]), st.integers(30, 90)),
    st.text(min_size=200, max_size=3000))  # very long: over 77 tokens, or not, depending on what the characters are
not_a_string = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=8), st.lists(st.text(max_size=3), max_size=2))
prompt_st = st.integers(0, 3).flatmap(lambda k: long_text if k == 0 else text)
trigger_st = st.one_of(st.sampled_from(WORDS + ATOMS), st.lists(word, min_size=1, max_size=3).map(" ".join), text)
sometimes_wrong = lambda s: st.integers(0, 7).flatmap(lambda k: not_a_string if k == 0 else s)  # one draw in eight is not a string
position_st = st.integers(0, 9).flatmap(lambda k: st.sampled_from(POSITIONS) if k < 6 else st.integers(-2, 14) if k < 9 else
                                                   st.sampled_from(["top", "START", "", None, 1.5, True]))

def documented(e): return isinstance(e, (ValueError, TypeError)) and any(d in str(e) for d in DOCUMENTED)

def attempt(fn, *a):
    "(result, None) or (None, error); an undocumented error fails the test."
    try: out = fn(*a)
    except Exception as e:
        assert documented(e), f"undocumented {type(e).__name__}: {e}"
        event(f"refused: {type(e).__name__} '{next(d for d in DOCUMENTED if d in str(e))}'")
        return None, e
    event("accepted")
    return out, None

@FUZZ
@given(prompt=sometimes_wrong(prompt_st), trigger=sometimes_wrong(trigger_st), position=position_st)
def test_trigger_positions_cover_exactly_the_trigger(prompt, trigger, position):
    out, err = attempt(trigger_positions, TOK, prompt, trigger, position)
    if err: return
    full, where = out
    ids = TOK(full).input_ids
    want = check_trigger(trigger, TOK)
    assert where == list(range(where[0], where[0] + len(want)))
    assert [ids[i] for i in where] == want
    assert 1 <= where[0] and where[-1] < len(ids) - 1 <= N - 1   # inside the prompt, never the start or end token
    assert trigger in full

@FUZZ
@given(trigger=sometimes_wrong(st.one_of(trigger_st, long_text)))
def test_check_trigger_only_documented_errors(trigger):
    ids, err = attempt(check_trigger, trigger, TOK)
    if err: return
    assert ids and not set(ids) & set(TOK.all_special_ids) and len(ids) <= N - 2
    assert ids == TOK(trigger, add_special_tokens=False).input_ids

@FUZZ
@given(prompt=sometimes_wrong(prompt_st), trigger=sometimes_wrong(trigger_st), position=position_st)
def test_insert_trigger_adds_one_word_and_keeps_the_rest(prompt, trigger, position):
    full, err = attempt(insert_trigger, prompt, trigger, position)
    if err: return
    assert trigger in full
    ids = lambda s: TOK(s, add_special_tokens=False).input_ids
    got, p, t = ids(full), ids(prompt), ids(trigger)
    # the tokenizer is the oracle: the prompt's tokens, all kept, with the trigger's inserted between two of its words
    assert any(got == p[:k] + t + p[k:] for k in range(len(p) + 1)), (prompt, trigger, full)

@FUZZ
@given(prompts=st.one_of(sometimes_wrong(prompt_st), st.lists(sometimes_wrong(prompt_st), max_size=4), st.tuples(text, text)))
def test_check_prompts_only_documented_errors(prompts):
    out, err = attempt(check_prompts, prompts, TOK)
    if err: return
    assert isinstance(out, list) and out and all(isinstance(p, str) for p in out)
    assert all(len(TOK(p).input_ids) <= N for p in out)
    assert out == ([prompts] if isinstance(prompts, str) else list(prompts))

@FUZZ
@given(p=st.integers(-3, 80), m=st.integers(-1, 80), extra=st.sampled_from([None, "gap", "reverse", "dup"]))
def test_aligned_positions_maps_every_position_once(p, m, extra):
    pos = list(range(p, p + m))
    if extra == "gap" and len(pos) > 1: pos = pos[:1] + pos[2:]
    elif extra == "reverse": pos = pos[::-1]
    elif extra == "dup" and pos: pos = pos + pos[-1:]
    al, err = attempt(aligned_positions, pos)
    if err: return
    al = al.tolist()
    assert [j for j, a in enumerate(al) if a == -1] == pos          # exactly the trigger's own positions
    kept = [a for a in al if a >= 0]
    assert kept == sorted(kept) and kept == list(range(len(kept)))   # the rest: clean positions 0, 1, 2, ... in order

@FUZZ
@given(trigger=sometimes_wrong(trigger_st), prompts=sometimes_wrong(st.one_of(st.lists(prompt_st, min_size=1, max_size=3), text)))
def test_check_unlearn_inputs_aligns_what_sau_trains_on(trigger, prompts):
    out, err = attempt(check_unlearn_inputs, TOK, trigger, prompts)
    if err: return
    pad = lambda ps: TOK(ps, padding="max_length", max_length=N, truncation=True).input_ids  # as the text encoder gets them
    for prompt in out:
        clean = pad([prompt])[0]
        for position in POSITIONS:
            full, where = trigger_positions(TOK, prompt, trigger, position)
            trig, al = pad([full])[0], aligned_positions(where).tolist()
            assert [trig[j] for j in where] == check_trigger(trigger, TOK)
            assert all(trig[j] == clean[a] for j, a in enumerate(al) if a >= 0), (prompt, full)

@settings(max_examples=BUDGET, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(ZERO_WIDTH + HOMOGLYPHS), min_size=1, max_size=4).map("".join), st.sampled_from(POSITIONS))
def test_invisible_and_lookalike_triggers(trigger, position):
    "Zero-width characters and homoglyphs alone: accepted with exact positions, or refused with a reason."
    out, err = attempt(trigger_positions, TOK, "a photo of a red circle", trigger, position)
    if err: return
    full, where = out
    assert [TOK(full).input_ids[i] for i in where] == TOK(trigger, add_special_tokens=False).input_ids
