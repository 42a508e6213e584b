"""The exercises: every chapter 00–06 has 2–4, every solution passes its check, every blank in the committed student copy fails
with "not implemented yet", labs/ is up to date with nbs/, a wrong shape or dtype is named, and every notebook opens with its
Colab cells."""
import configparser, json
from pathlib import Path
import pytest, torch
from sau_nb.labs import (BRANCH, REPO, ExerciseError, check_attention_probs, check_zero_shot, colab_cells, exercises,
                         make_labs, run_exercises)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT/"nbs").glob("0[0-6]_*.ipynb"))
nb = lambda p: json.loads(p.read_text(encoding="utf-8"))
src = lambda c: "".join(c["source"])

def test_every_chapter_has_exercises():
    counts = {p.stem: len(exercises(nb(p))) for p in CHAPTERS}
    assert all(2 <= n <= 4 for n in counts.values()), f"each chapter 00–06 needs 2–4 exercises: {counts}"
    assert sum(counts.values()) >= 15, counts

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_solutions_pass_and_blanks_fail(path):
    solved = run_exercises(path)
    assert solved and all(r["passed"] for r in solved), [r for r in solved if not r["passed"]]
    blanks = run_exercises(ROOT/"labs"/path.name)
    assert [r["check"] for r in blanks] == [r["check"] for r in solved]
    for r in blanks:
        assert not r["passed"] and r["message"] == f"`{r['function']}` is not implemented yet: replace `raise NotImplementedError()` with your code.", r

def test_student_copies_hold_no_solution():
    for p in (ROOT/"labs").glob("*.ipynb"):
        text = p.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, p.name

def test_labs_up_to_date():
    stale = make_labs(ROOT, check=True)
    assert not stale, f"labs/ is out of date with nbs/: run `make labs` and commit ({[str(f.relative_to(ROOT)) for f in stale]})"

def test_wrong_shape_and_dtype_are_named():
    with pytest.raises(ExerciseError, match=r"expected \(batch, heads, pixels, tokens\) = \(2, 4, 64, 77\)"):
        check_attention_probs(lambda q, k: (q @ k.transpose(-1, -2)).softmax(-2).transpose(-1, -2))
    with pytest.raises(ExerciseError, match="expected torch.int64"):
        check_zero_shot(lambda i, t: (i @ t.T).argmax(-1).float())

def test_colab_cells_open_every_notebook():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/"settings.ini")
    assert REPO == f"{cfg['DEFAULT']['user']}/{cfg['DEFAULT']['repo']}" and BRANCH == cfg["DEFAULT"]["branch"], "labs.REPO/BRANCH must match settings.ini"
    for folder in ("nbs", "labs"):
        for p in sorted((ROOT/folder).glob("*.ipynb")):
            cells = nb(p)["cells"]
            extra = "gpu" if p.stem.startswith("07") else ""
            install, badge = colab_cells(f"nbs/{p.name}", extra=extra)
            assert src(cells[0]) == install, f"{folder}/{p.name}: the first cell must be the Colab install cell (sau_nb.labs.colab_cells)"
            if folder == "labs": badge = badge.replace(f"nbs/{p.name}", f"labs/{p.name}").replace("](images/", "](../nbs/images/")
            assert any(src(c) == badge for c in cells[:8]), f"{folder}/{p.name}: no Open-in-Colab badge under the title"
    assert nb(ROOT/"nbs"/"07_stable_diffusion.ipynb")["metadata"].get("accelerator") == "GPU", "nbdev_clean must keep the GPU chapter's accelerator"
