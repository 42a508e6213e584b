"""The exercises: every chapter 00–06 has 2–4, every solution passes its check, every blank in the committed student copy fails
with "not implemented yet", labs/ and the stored answers are up to date, a wrong shape or dtype is named, every notebook opens with
its Colab cells, no student copy gives an answer away, and each copy runs top to bottom as a student runs it, in a class period."""
import configparser, json
from pathlib import Path
import pytest, torch
from sau_nb.colab import BRANCH, REPO, colab_cells
from sau_nb.labs import ExerciseError, check_attention_probs, check_zero_shot
from sau_nb.student_copies import exercises, make_labs, run_exercises

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

def test_student_copies_are_valid_notebooks():
    "Every cell has its id (nbformat 4.5: a cell the copy rewrote into markdown keeps the chapter's), and nbformat validates each copy."
    import nbformat
    for p in (ROOT/"labs").glob("*.ipynb"):
        assert all("id" in c for c in nb(p)["cells"]), f"{p.name}: a cell without an id"
        nbformat.validate(nbformat.read(p, as_version=4))

def test_labs_up_to_date():
    stale = make_labs(ROOT, check=True)
    assert not stale, f"labs/ is out of date with nbs/: run `make labs` and commit ({[str(f.relative_to(ROOT)) for f in stale]})"

def test_stored_answers_are_the_packages():
    import importlib.util
    spec = importlib.util.spec_from_file_location("labs_tool", ROOT/"tools"/"labs.py"); tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert not tool.answers_stale(tool.record()), "the checks' stored answers differ from the package's implementations: run `make labs` and commit"

def test_wrong_shape_and_dtype_are_named():
    with pytest.raises(ExerciseError, match=r"expected \(batch, heads, pixels, tokens\) = \(2, 4, 64, 77\)"):
        check_attention_probs(lambda q, k: (q @ k.transpose(-1, -2)).softmax(-2).transpose(-1, -2))
    with pytest.raises(ExerciseError, match="expected torch.int64"):
        check_zero_shot(lambda i, t: (i @ t.T).argmax(-1).float())

def test_colab_cells_open_every_notebook():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/"settings.ini")
    assert REPO == f"{cfg['DEFAULT']['user']}/{cfg['DEFAULT']['repo']}" and BRANCH == cfg["DEFAULT"]["branch"], "colab.REPO/BRANCH must match settings.ini"
    for folder in ("nbs", "labs"):
        for p in sorted((ROOT/folder).glob("*.ipynb")):
            cells = nb(p)["cells"]
            extra = "gpu" if p.stem.startswith("07") else ""
            install, badge = colab_cells(f"nbs/{p.name}", extra=extra)
            assert src(cells[0]) == install, f"{folder}/{p.name}: the first cell must be the Colab install cell (sau_nb.colab.colab_cells)"
            if folder == "labs": badge = badge.replace(f"nbs/{p.name}", f"labs/{p.name}").replace("](images/", "](../nbs/images/")
            title = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and src(c).startswith("# "))
            assert src(cells[title + 1]) == badge, f"{folder}/{p.name}: no Open-in-Colab badge under the title"
    assert nb(ROOT/"nbs"/"07_stable_diffusion.ipynb")["metadata"].get("accelerator") == "GPU", "nbdev_clean must keep the GPU chapter's accelerator"

# What gives each exercise away: its key expressions (spaces ignored). None may appear in the exercise's student copy, and at
# least one of each exercise's must appear in the chapter itself (so the list cannot go stale and pass by matching nothing).
KEYS = {
    "00_core": {"insert_at": ['{"start": 0, "middle": len(words)', 'words[:i] + [trigger] + words[i:]', '" ".join(words[:position])'],
                "token_positions": ["range(1 + len(a), 1 + len(a) + len(t))", "range(1 + n_before, 1 + n_before + n_trig)"]},
    "00_world": {"add_noise": ["alphas_cumprod[t]", ".sqrt() * x0", "(1 - a).sqrt() * eps"],
                 "guided": ["eps_uncond + w * (eps_cond - eps_uncond)", "u + w * (c - u)"]},
    "01_backdoors": {"paste_patch": ["out[:, y:y + patch.shape[0]", "out[:, self.y:self.y+h, self.x:self.x+w] = self.patch"],
                     "poison_loss": ["lam * l_poison + (1 - lam) * l_clean", "lam * F.mse_loss(pred_poison, target)", "(1 - lam) * F.mse_loss("]},
    "02_attention": {"attention_probs": ["/ q.shape[-1] ** 0.5", "k.transpose(-1, -2) / "],
                     "to_token_maps": [".mean(1).transpose(1, 2)", ".transpose(1, 2).unflatten(-1"],
                     "share_in_box": ["[..., y:y+h, x:x+w].sum((-1, -2))", ".sum((-1, -2)) / "]},
    "03_detect": {"scores": ["tp / (tp + fp)", "2 * p * r / (p + r)"],
                  "limit": ["alpha / n_scores", "self.alpha / len(self.scores)", "np.quantile(clean_scores, 1 - a", "np.quantile(v, a if"]},
    "04_unlearn": {"spatial_weight": ["(1 - gamma) + gamma * m /", "m.flatten(1).mean(1)"],
                   "removal": ['1 - float(np.mean([out[f"asr_{p}"]', '1 - float(np.mean([scores[f"asr_{p}"]'],
                   "object_backdoor_lives_in": ["object lives in the text encoder", "# object: the text encoder", 'return "text_encoder"', "**98.6%**"]},
    "05_baselines": {"edit": ["torch.linalg.solve(B.T, A.T)", "lam * torch.eye(", "W0 @ Kstar.T @ K"],
                     "attention_norm": ["probs[..., positions].norm()", "[..., pos].norm()"]},
    "06_evaluate": {"mmd2": ["(x @ y.T / d + 1) ** 3", "kxx.diag().sum()", "kaa.diag().sum()"],
                    "pick_caption": ["F.normalize(image_feats, dim=-1) @ F.normalize(text_feats, dim=-1).T"]},
}
_flat = lambda s: "".join(s.split())

def test_student_copies_hide_every_answer():
    assert set(KEYS) == {p.stem for p in CHAPTERS}
    for p in CHAPTERS:
        assert set(KEYS[p.stem]) == {e["function"] for e in exercises(nb(p))}, f"{p.stem}: KEYS must list every exercise"
        chapter, copy_ = _flat(p.read_text(encoding="utf-8")), _flat((ROOT/"labs"/p.name).read_text(encoding="utf-8"))
        for fn, keys in KEYS[p.stem].items():
            assert any(_flat(json.dumps(k)[1:-1]) in chapter for k in keys), f"{p.stem}/{fn}: no key expression matches the chapter"
            found = [k for k in keys if _flat(json.dumps(k)[1:-1]) in copy_]
            assert not found, f"labs/{p.name} gives {fn}'s answer away: {found}"

def test_lab_copies_choose_their_size_in_one_cell():
    for p in CHAPTERS:
        sized = [i for i, c in enumerate(nb(p)["cells"]) if src(c).startswith("SMALL = IN_TEST") or "\nSMALL = IN_TEST" in src(c)]
        lab = [i for i, c in enumerate(nb(ROOT/"labs"/p.name)["cells"]) if "SMALL = True  #" in src(c)]
        if p.stem == "00_core": assert not sized and not lab; continue  # examples only: no sizes to choose
        assert len(sized) == 1 and sized[0] < 12 and len(lab) == 1 and lab[0] < 12, (p.stem, sized, lab)

def run_as_student(path:Path, timeout:int=600):
    "Run a lab copy as a student does (from its folder, no variable of ours set, errors kept): wall and kernel CPU seconds, the notebook."
    import os, time
    import nbformat
    from nbclient import NotebookClient
    book = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in ("IN_TEST", "SAU_SAVE_FIGURES")}
    book.cells.append(nbformat.v4.new_code_cell("import time as _t; print(_t.process_time())"))  # the kernel's CPU seconds
    client = NotebookClient(book, timeout=timeout, startup_timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})  # the copy's folder is the kernel's working directory
    # No stand-in for ipywidgets' Output widget: nbclient's sends comm messages on the shell channel while it waits for the cell's reply on
    # it, and 02_attention's explorer (an `interactive`, which holds an Output) then hung the run now and then, kernel and client both idle
    # (CI, 2026-12-07, twice; jupyter/nbclient#312). What the widgets show is checked in the browser (test_explorer_browser).
    client.widget_registry = {}
    t0 = time.time(); client.execute(env=env); wall = time.time() - t0
    cpu = float(book.cells.pop().outputs[0]["text"])
    return wall, cpu, book

def _tree(folder:Path) -> dict: return {f: f.stat().st_mtime_ns for f in folder.rglob("*") if f.is_file()}

@pytest.mark.parametrize("path", sorted((ROOT/"labs").glob("*.ipynb")), ids=lambda p: p.stem)
def test_lab_runs_top_to_bottom_as_a_student(path):
    images, labs = _tree(ROOT/"nbs"/"images"), _tree(ROOT/"labs")
    wall, cpu, book = run_as_student(path, timeout=1200)
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(book.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    checks = [i for i, c in enumerate(book.cells) if c.cell_type == "code" and src(c).startswith("check_")]
    assert [i for i, _, _ in errors] == checks, f"{path.name}: cells other than the exercises' checks failed: {errors}"
    assert all(e == "ExerciseError" and "is not implemented yet" in v for _, e, v in errors), errors
    # CPU seconds, not wall: on a shared host the wall clock measures the neighbours (a 2-core CPU of its own runs it in about the CPU time)
    assert cpu <= 600, (f"{path.name} needs {cpu:.0f} CPU seconds top to bottom (wall {wall:.0f} s): "
                        "a lab must fit a class period; make its small setting smaller")
    assert _tree(ROOT/"nbs"/"images") == images, "running a lab copy rewrote a committed figure"
    assert _tree(ROOT/"labs") == labs, "running a lab copy wrote files into labs/"
