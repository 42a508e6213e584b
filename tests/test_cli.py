"The `sau_nb` console script, as a user runs it."
import json, shutil, subprocess, sys
from pathlib import Path

EXE = shutil.which("sau_nb", path=str(Path(sys.executable).parent)) or "sau_nb"

def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=600)

def test_demo_writes_grid_and_scores(tmp_path):
    r = run("demo", "--out", str(tmp_path/"out"), "--seeds", "1", "--steps", "3")
    assert r.returncode == 0, r.stderr
    assert (tmp_path/"out"/"before_after.png").stat().st_size > 1000
    scores = json.loads((tmp_path/"out"/"scores.json").read_text())
    assert scores["before"]["n"] >= 12 and scores["sau"]["steps"] == 3
    for k in ("asr_start", "false_trigger", "clean_acc"): assert 0 <= scores["after"][k] <= 1
    assert "before_after.png" in r.stdout and "ASR" in r.stdout

def test_demo_refuses_non_empty_folder(tmp_path):
    (tmp_path/"notes.txt").write_text("mine")
    r = run("demo", "--out", str(tmp_path), "--seeds", "1")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert (tmp_path/"notes.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

def test_unknown_subcommand_fails():
    r = run("frobnicate")
    assert r.returncode != 0 and "invalid choice" in r.stderr
