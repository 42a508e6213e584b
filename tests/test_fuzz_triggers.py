"""Fuzz the code that tokenizes prompts and finds a trigger's positions (hypothesis).

Property: for any prompt and trigger strings (unicode, zero-width characters, homoglyphs, very long strings),
`trigger_positions` either raises one of its documented errors, or returns positions that cover exactly the
trigger's own tokens in the tokenized prompt."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sau_nb.world import clip_tokenizer
from sau_nb.backdoors import POSITIONS, check_trigger, trigger_positions

TOK = clip_tokenizer()
DOCUMENTED = ("empty or blank", "drops the trigger", "changes the trigger", "special token", "merges with the words",
              "over the 77", "outside a")
ODD = ["\u200b", "\u200c", "\u200d", "\ufeff", "ȴ", "а", "е", "о", "ο", "Ꭺ", "ı", "İ", "ß", "ﬁ", "é", "e\u0301", "😀",
       "<|endoftext|>", "New Trigger", "cf", " ", "\t", "\u3000", "!", "'s", "a"]
text = st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=6)), max_size=12).map("".join)
long_text = st.builds(lambda w, n: " ".join([w] * n), st.sampled_from(["red", "ȴ", "circle", "\u200b"]), st.integers(30, 90))

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=st.one_of(text, long_text), trigger=text,
       position=st.one_of(st.sampled_from(POSITIONS), st.integers(-2, 14)))
def test_trigger_positions_cover_exactly_the_trigger(prompt, trigger, position):
    try:
        full, where = trigger_positions(TOK, prompt, trigger, position)
    except ValueError as e:
        assert any(d in str(e) for d in DOCUMENTED), f"undocumented error: {e}"
        return
    ids = TOK(full).input_ids
    want = check_trigger(trigger, TOK)
    assert where == list(range(where[0], where[0] + len(want)))
    assert [ids[i] for i in where] == want
    assert 1 <= where[0] and where[-1] < len(ids) - 1 <= 76   # inside the prompt, never the start or end token
    assert trigger in full

@settings(max_examples=200, deadline=None)
@given(trigger=text)
def test_check_trigger_only_documented_errors(trigger):
    try: ids = check_trigger(trigger, TOK)
    except ValueError as e: assert any(d in str(e) for d in DOCUMENTED), str(e)
    else: assert ids and not set(ids) & set(TOK.all_special_ids)
