"The `sau_nb` console script, as a user runs it."
import json, shutil, subprocess, sys
from pathlib import Path

EXE = shutil.which("sau_nb", path=str(Path(sys.executable).parent)) or "sau_nb"

def run(*args, timeout=600):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout)

def test_demo_writes_the_report(tmp_path):
    r = run("demo", "--out", str(tmp_path/"out"), "--seeds", "1", "--steps", "2", "--n-prompts", "2", "--max-tokens", "256", timeout=1800)  # minutes on a busy CPU
    assert r.returncode == 0, r.stderr
    out = tmp_path/"out"
    res = json.loads((out/"results.json").read_text())
    name = res["config"]["models"][0]
    assert sorted(p.name for p in out.iterdir()) == ["bars.png", f"grid_{name}.png", "report.html", "results.json"]
    assert [row["defense"] for row in res["rows"]] == ["none", "defend", "skd", "uce", "perturb"] and res["config"]["steps"] == 2
    for row in res["rows"]:
        for k in ("asr", "false_trigger", "clean_acc"): assert 0 <= row[k] <= 1
    assert "Detection and localization" in (out/"report.html").read_text() and "The blind scan" in (out/"report.html").read_text()
    assert "report.html" in r.stdout and "ASR" in r.stdout and "localizes" in r.stdout

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

def test_unknown_subcommand_fails():
    r = run("frobnicate")
    assert r.returncode != 0 and "invalid choice" in r.stderr
