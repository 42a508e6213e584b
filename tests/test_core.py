"""What both worlds share lives in `sau_nb.core`, and users' old import paths keep working. That the full-size path (core,
attention, effect, unlearn, defend) never imports the tiny world, when imported or called, is tests/test_import_guard.py's check."""
import subprocess, sys
import pytest

def test_old_import_paths_still_work():
    "Users' code that imports shared names from the tiny world's module keeps working."
    from sau_nb.world import generate, load_pipeline, get_device, image_grid
    from sau_nb.core import generate as g2, load_pipeline as l2
    assert generate is g2 and load_pipeline is l2

def test_loading_prints_no_future_warning():
    "Loading a world (clean, and a zoo model with its own parts) passes diffusers the dtype keyword it takes today."
    code = ("import warnings; warnings.simplefilter('error', FutureWarning)\n"
            "from sau_nb.world import load_world\nload_world('clean'); load_world('pixel')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]

def test_moved_names_keep_their_old_import_paths():
    "Model surgery moved to `sau_nb.students`, the tiny world's removal scores to `sau_nb.evaluate`: old imports still work."
    from sau_nb import evaluate, students
    from sau_nb.unlearn import PARAM_SETS, TE_PARAM_SETS, trainable_unet, finish_unet, shared_student, token_shift, _te_trained
    from sau_nb.unlearn import mix_pipeline, removal_scores  # resolved when asked for (`unlearn.__getattr__`)
    assert trainable_unet is students.trainable_unet and finish_unet is students.finish_unet and _te_trained is students._te_trained
    assert shared_student is students.shared_student and token_shift is students.token_shift
    assert PARAM_SETS is students.PARAM_SETS and TE_PARAM_SETS is students.TE_PARAM_SETS
    assert removal_scores is evaluate.removal_scores and mix_pipeline is evaluate.mix_pipeline
    import sau_nb.unlearn as u, pytest
    with pytest.raises(AttributeError): u.no_such_name

def test_phrasing_words_are_the_held_out_phrasings_words():
    "`trigger_effect`'s neutral words avoid exactly the words `distractor_words` avoids: the same words, the same draws."
    from sau_nb.core import PHRASING_WORDS, clip_tokenizer, neutral_words
    from sau_nb.world import HELDOUT_TEMPLATES
    from sau_nb.inject import distractor_words
    assert set(PHRASING_WORDS) == {w for t in HELDOUT_TEMPLATES for w in t.split() if "{" not in w}
    tok = clip_tokenizer()
    assert neutral_words(tok, "ȴ", n=200, seed=3, avoid=PHRASING_WORDS) == distractor_words(tok, "ȴ", n=200, seed=3)

def test_tokenizer_files_leave_no_folder_behind():
    "Each process writes CLIP's tokenizer files to a temporary folder; it must be gone when the process exits (152 were left in /tmp)."
    from pathlib import Path
    code = "from sau_nb.core import clip_tokenizer, _tokenizer_dir; t = clip_tokenizer(); print(_tokenizer_dir())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out and "sau_nb_clip_tok_" in out and not Path(out).exists(), out
