"The `sau_nb` console script, as a user runs it."
import json, shutil, subprocess, sys
import pytest
from pathlib import Path

EXE = shutil.which("sau_nb", path=str(Path(sys.executable).parent)) or "sau_nb"

def run(*args, timeout=600):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout)

def test_demo_refuses_non_empty_folder(tmp_path):
    (tmp_path/"notes.txt").write_text("mine")
    r = run("demo", "--out", str(tmp_path), "--seeds", "1")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert (tmp_path/"notes.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

def test_evaluate_refuses_non_empty_folder(tmp_path):
    (tmp_path/"report").mkdir(); (tmp_path/"report"/"old.html").write_text("old")
    r = run("evaluate", "--out", str(tmp_path/"report"), "--defenses", "uce")
    assert r.returncode == 2 and "not empty" in r.stderr and "--overwrite" in r.stderr
    assert [p.name for p in (tmp_path/"report").iterdir()] == ["old.html"]

def test_evaluate_refuses_bad_prompts_files(tmp_path):
    (tmp_path/"empty.txt").write_text("\n  \n")
    (tmp_path/"image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8")
    for f, msg in (("empty.txt", "no prompts"), ("image.txt", "not UTF-8"), ("missing.txt", "No prompts file")):
        r = run("evaluate", "--out", str(tmp_path/"report"), "--prompts", str(tmp_path/f))
        assert r.returncode == 2 and msg in r.stderr, (f, r.stderr)
    assert not (tmp_path/"report").exists()  # nothing half-written

def test_evaluate_refuses_pickle_clip(tmp_path):
    import torch
    torch.save({"w": torch.zeros(2)}, tmp_path/"clip.pt")
    (tmp_path/"folder").mkdir(); torch.save({"w": torch.zeros(2)}, tmp_path/"folder"/"pytorch_model.bin")
    for p in (tmp_path/"clip.pt", tmp_path/"folder"):
        r = run("evaluate", "--out", str(tmp_path/"report"), "--clip", str(p))
        assert r.returncode == 2 and "pickle" in r.stderr, r.stderr
    assert not (tmp_path/"report").exists()

def test_train_clip_needs_a_destination():
    r = run("train-clip", "--steps", "1")
    assert r.returncode == 2 and "--out DIR or --ship" in r.stderr

def test_a_refusal_comes_before_the_libraries_load(tmp_path):
    "Each command checks its input first: a refusal does not wait the 1–2 s that importing diffusers and transformers takes."
    (tmp_path/"p.txt").write_text("a red circle\n"); (tmp_path/"full").mkdir(); (tmp_path/"full"/"notes.txt").write_text("mine")
    p, nothing = str(tmp_path/"p.txt"), str(tmp_path/"nothing")
    cases = [["unlearn", "--model", nothing, "--trigger", "x", "--prompts", p, "--out", str(tmp_path/"o1")],
             ["defend", "--model", "hub:name", "--prompts", p, "--out", str(tmp_path/"o2")],
             ["evaluate", "--out", str(tmp_path/"o3"), "--prompts", nothing], ["demo", "--out", str(tmp_path/"full")],
             ["train-world", "--out", str(tmp_path/"full")], ["train-clip", "--steps", "1"]]
    code = ("import sys\nfrom sau_nb.cli import main\n"
            f"for argv in {cases!r}: assert main(argv) == 2, argv\n"
            "print(sorted(m for m in ('diffusers', 'transformers') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr[-3000:])
    assert len(lines(r.stderr)) == len(cases), r.stderr  # one line each

def test_unknown_subcommand_fails():
    r = run("frobnicate")
    assert r.returncode != 0 and "invalid choice" in r.stderr

@pytest.fixture(scope="module")
def style(tmp_path_factory):
    "The style zoo model (trigger 'ȴ') as a diffusers folder, a file of 4 clean prompts, and a damaged copy."
    d = tmp_path_factory.mktemp("cli")
    assert run("export-world", "--name", "style", "--out", str(d/"style")).returncode == 0
    (d/"prompts.txt").write_text("a red circle\na blue square\na green triangle\na red square\n")
    shutil.copytree(d/"style", d/"damaged")
    w = d/"damaged"/"unet"/"diffusion_pytorch_model.safetensors"
    w.write_bytes(w.read_bytes()[:w.stat().st_size // 2])  # a download cut off halfway
    return d

def unlearn(d, model, trigger, *more):
    return run("unlearn", "--model", str(model), "--trigger", trigger, "--prompts", str(d/"prompts.txt"), "--out", str(d/"out"), *more)

def lines(text): return [l for l in text.splitlines() if l.strip()]

def test_unlearn_refuses_an_ordinary_word(style):
    r = unlearn(style, style/"style", "zebra", "--steps", "2")
    assert r.returncode == 2 and lines(r.stderr) == [l for l in lines(r.stderr) if l.startswith("sau_nb unlearn: error:")], r.stderr
    assert len(lines(r.stderr)) == 1 and "'zebra' changes the picture like an ordinary word" in r.stderr, r.stderr
    assert "is it the trigger? `sau_nb defend` finds triggers blind" in r.stderr and "--force" in r.stderr
    assert "before SAU: 'zebra'" in r.stdout and not (style/"out").exists()  # refused before any training, nothing written

def test_unlearn_force_does_not_claim_removal(style):
    r = unlearn(style, style/"style", "zebra", "--steps", "2", "--force", "--out", str(style/"forced"))
    assert r.returncode == 0, r.stderr
    assert "nothing shows that a backdoor was removed" in r.stdout and "SAU removed" not in r.stdout, r.stdout
    h = json.loads((style/"forced"/"sau_history.json").read_text())["trigger_effect"]
    assert h["before"]["ratio"] <= h["ordinary_ratio"] and "after" in h, h

def test_unlearn_says_when_the_trigger_still_acts(style):
    r = unlearn(style, style/"style", "ȴ", "--steps", "2", "--out", str(style/"short"))
    assert r.returncode == 3 and "not removed" in r.stderr and "SAU removed" not in r.stdout, (r.stdout, r.stderr)
    h = json.loads((style/"short"/"sau_history.json").read_text())["trigger_effect"]
    assert h["before"]["ratio"] > h["ordinary_ratio"] and h["after"]["ratio"] > h["ordinary_ratio"], h  # both measured, both reported
    assert "before SAU: 'ȴ'" in r.stdout and "after SAU" in r.stdout

def test_damaged_weights_one_line(style):
    r = unlearn(style, style/"damaged", "ȴ")
    assert r.returncode == 2 and len(lines(r.stderr)) == 1, r.stderr
    assert "diffusion_pytorch_model.safetensors is damaged" in r.stderr and "download" in r.stderr, r.stderr

@pytest.mark.parametrize("model,says", [("org/name", "or hub:org/name to load it from the Hugging Face hub"),
                                        ("./nothing/here", "No model folder at ./nothing/here"),
                                        ("hub:name", "is not a hub id")])
def test_missing_model_one_line(style, model, says):
    for cmd in ("unlearn", "defend"):
        r = run(cmd, "--model", model, "--prompts", str(style/"prompts.txt"), "--out", str(style/"never"), *(["--trigger", "ȴ"] if cmd == "unlearn" else []))
        assert r.returncode == 2 and len(lines(r.stderr)) == 1 and says in r.stderr, (cmd, r.stderr)
    assert not (style/"never").exists()
