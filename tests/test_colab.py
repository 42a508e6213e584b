"""Colab's install cell cannot break Colab's runtime (DESIGN §9, issue 40), checked against Colab's published package list
(googlecolab/backend-info `pip-freeze.gpu.txt`, kept as tests/fixtures/colab-pip-freeze.gpu.txt with its commit and date).

- Offline: `labs/colab-constraints.txt` is what `make labs` writes and pins none of Colab's packages; every notebook and lab
  copy survives nbdev's absence (Colab has none) and calls no `show_doc` itself.
- `test_install_resolves_on_colab` (PyPI, ~15 s per install cell): each distinct install cell of the notebooks and lab copies,
  pointed at a wheel built from this checkout, is resolved by pip for Colab's Python 3.13 with Colab's whole list as
  constraints, so any version change of one of Colab's packages makes it fail. Colab's CUDA builds (torch 2.11.0+cu128...)
  are stood in for by metadata-only wheels of the same names and versions. Markers are evaluated for this Python (3.11).
- `test_colab_runtime` (PyPI): a virtual environment holding Colab's packages that the install touches, at Colab's versions,
  with Colab's pip 24.1.2 (cached in build/colab-sim/<hash of the fixture, sau_nb's requirements and this Python>). PyPI has
  no CPU build of Colab's torch 2.11.0+cu128, so this environment's own torch and torchvision are linked in under Colab's
  names and versions (metadata without dependencies): pip sees exactly Colab's list, and the code runs here. In it pip
  dry-runs each install cell (nothing of Colab's may change), IPython (Colab's 7.34) runs each install cell itself with
  `google.colab` present, then the first cells of every notebook and lab copy (up to the nbdev import), and the attention
  explorer is built with Colab's ipywidgets 7.7.1, diffusers 0.39.0 and transformers 5.15.0.
Python here is 3.11 (Colab's is 3.13). Measured 2026-12-06 on the shared 2-core host (load average ~25): the whole file 136 s
with the environment cached (the runtime 68 s of it), 8 min 18 s when it builds the environment (the runtime 7 min 24 s).
"""
import configparser, functools, hashlib, json, os, re, shlex, shutil, subprocess, sys, sysconfig, urllib.request, zipfile
from pathlib import Path
import pytest, torch
from sau_nb.colab import COLAB_FREEZE, REPO, BRANCH, TORCH_STACK, colab_constraints_file, package_name, pins
from sau_nb.student_copies import student_copy, exercises

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT/COLAB_FREEZE
CACHE = ROOT/"build"/"colab-sim"  # git-ignored
KERNEL = ("ipython", "ipykernel", "ipywidgets")  # Colab's kernel: in the simulated runtime whether sau_nb needs it or not
TORCH_NEEDS = ("filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec")  # torch's own, CUDA aside
TORCH = ("torch", "torchvision")  # Colab's CUDA build: stood in for by this environment's own, under Colab's versions
GIT_URL = f"git+https://github.com/{REPO}@{BRANCH}"
CONSTRAINTS_URL = f"https://raw.githubusercontent.com/{REPO}/{BRANCH}/labs/colab-constraints.txt"
PYPI = "https://pypi.org/simple/pip/"

def colab_versions() -> dict[str, str]:
    "Colab's packages and versions, by normalised name."
    return {n: line.split("==", 1)[1] for n, line in pins(FIXTURE.read_text(encoding="utf-8")).items()}

def settings_requirements() -> list[str]:
    "What sau_nb asks for on Colab: settings.ini's `requirements` and `gpu_requirements` (07 installs the `gpu` extra)."
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini", encoding="utf-8")
    return shlex.split(cfg["DEFAULT"]["requirements"]) + shlex.split(cfg["DEFAULT"]["gpu_requirements"])

def allowed_additions() -> set[str]:
    "What the install may add to Colab: sau_nb, the packages its constraints pin (Colab lacks them) and its `gpu` extra."
    cfg = configparser.ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini", encoding="utf-8")
    gpu = {package_name(re.split(r"[<>=!~;\[ ]", r)[0]) for r in shlex.split(cfg["DEFAULT"]["gpu_requirements"])}
    return {"sau-nb"} | set(pins(colab_constraints_file(ROOT))) | gpu

# --- the notebooks' cells -------------------------------------------------------------------------------------------------
src = lambda c: "".join(c["source"])

@functools.cache
def notebooks() -> dict[str, dict]:
    "Every notebook in nbs/ and labs/, and the student copies `make labs` would write now, by a label."
    out = {f"{d}/{p.name}": json.loads(p.read_text(encoding="utf-8")) for d in ("nbs", "labs") for p in sorted((ROOT/d).glob("*.ipynb"))}
    for p in sorted((ROOT/"nbs").glob("*.ipynb")):
        nb = out[f"nbs/{p.name}"]
        if exercises(nb): out[f"make labs → labs/{p.name}"] = student_copy(nb, f"nbs/{p.name}")
    return out

def first_cells(nb:dict) -> list[str]:
    "The code cells a notebook opens with: up to its nbdev import, or else up to its title; the install cell first."
    cells = nb["cells"]
    end = next((i for i, c in enumerate(cells) if c["cell_type"] == "code" and "nbdev" in src(c)), None)
    if end is None: end = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown") - 1
    return [src(c) for c in cells[:end + 1] if c["cell_type"] == "code"]

def local_install(cell:str, wheel:Path, constraints:Path) -> str:
    "The install cell pointed at a wheel of this checkout and at local constraints (Colab gets them from GitHub)."
    assert GIT_URL in cell and CONSTRAINTS_URL in cell, f"not the install cell of sau_nb.colab.colab_cells:\n{cell}"
    return cell.replace(GIT_URL, wheel.as_uri()).replace(CONSTRAINTS_URL, str(constraints))

def pip_args(cell:str) -> list[str]:
    "The arguments of the cell's `!pip install ...` line."
    line = next(l.strip() for l in cell.splitlines() if l.strip().startswith("!pip install"))
    return shlex.split(line)[2:]

# --- offline checks -------------------------------------------------------------------------------------------------------
def test_colab_constraints_pin_nothing_of_colabs():
    text = colab_constraints_file(ROOT)
    assert (ROOT/"labs"/"colab-constraints.txt").read_text(encoding="utf-8") == text, "labs/colab-constraints.txt is stale: run `make labs`"
    colab, pinned = colab_versions(), pins(text)
    assert pinned, "the constraints pin nothing: sau_nb's dependencies that Colab lacks should have their tested versions"
    assert not set(pinned) & set(colab), f"pins of Colab's own packages: {sorted(set(pinned) & set(colab))}"
    assert not [n for n in pinned if n.startswith(TORCH_STACK)], pinned
    assert {"ipython", "ipykernel", "ipywidgets", "numpy", "pillow", "fastcore", "torch"} <= set(colab), "the fixture is not Colab's list"

def test_notebooks_run_without_nbdev():
    for label, nb in notebooks().items():
        for i, c in enumerate(nb["cells"]):
            s = src(c)
            if c["cell_type"] != "code": continue
            assert not re.search(r"^\s*show_doc\(", s, re.M), f"{label}, cell {i}: show_doc needs nbdev, which Colab lacks"
            for line in s.splitlines():
                if re.search(r"\b(from|import) nbdev\b", line):
                    assert re.match(r"try: from nbdev\.showdoc import \*", line) and "except ImportError: pass" in s, \
                        f"{label}, cell {i}: an unguarded nbdev import fails on Colab: {line.strip()}"

# --- the simulations ------------------------------------------------------------------------------------------------------
def _online():
    try: urllib.request.urlopen(PYPI, timeout=15).close()
    except OSError as e: pytest.skip(f"PyPI unreachable ({e}): the Colab simulation needs the package index")

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    "A wheel of this checkout, as Colab would build from GitHub."
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, ROOT],
                   check=True, capture_output=True)
    return next(out.glob("sau_nb-*.whl"))

@pytest.fixture(scope="module")
def constraints(tmp_path_factory) -> Path:
    "labs/colab-constraints.txt as `make labs` writes it from this checkout."
    p = tmp_path_factory.mktemp("constraints")/"colab-constraints.txt"
    p.write_text(colab_constraints_file(ROOT), encoding="utf-8")
    return p

def stand_ins(folder:Path) -> Path:
    "Metadata-only wheels for Colab's builds that no index has (torch 2.11.0+cu128...): same name and version, no dependencies."
    folder.mkdir(parents=True, exist_ok=True)
    for name, v in colab_versions().items():
        if "+" not in v: continue
        dist = f"{name.replace('-', '_')}-{v}"
        with zipfile.ZipFile(folder/f"{dist}-py3-none-any.whl", "w") as z:
            z.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n")
            z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test_colab\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            z.writestr(f"{dist}.dist-info/RECORD", "")
    return folder

def freeze_constraints(path:Path) -> Path:
    "Colab's list as a constraints file (its `name @ url` lines are not constraints pip takes)."
    path.write_text("\n".join(pins(FIXTURE.read_text(encoding="utf-8")).values()) + "\n", encoding="utf-8")
    return path

def report(path:Path) -> dict[str, str]:
    "What a `pip install --report` would install: {name: version}."
    return {package_name(i["metadata"]["name"]): i["metadata"]["version"] for i in json.loads(path.read_text())["install"]}

def check_additions(would:dict[str, str], colab:dict[str, str], where:str):
    changed = {n: f"{colab[n]} → {v}" for n, v in would.items() if n in colab and colab[n] != v}
    assert not changed, f"{where}: the install cell would change Colab's packages: {changed}"
    added = {n for n in would if n not in colab}
    assert added <= allowed_additions(), f"{where}: adds packages that are not sau_nb's own needs: {sorted(added - allowed_additions())}"
    assert "sau-nb" in added, would

PLATFORMS = [a for i in range(17, 36) for a in ("--platform", f"manylinux_2_{i}_x86_64")] + ["--platform", "linux_x86_64"]

def test_install_resolves_on_colab(wheel, constraints, tmp_path):
    _online()
    colab = colab_versions()
    cons, stand = freeze_constraints(tmp_path/"colab.txt"), stand_ins(tmp_path/"stand")
    for cell in sorted({first_cells(nb)[0] for nb in notebooks().values()}):
        out = tmp_path/"report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", out, "--target", tmp_path/"t",
               "--python-version", "3.13", *PLATFORMS, "--only-binary=:all:", "--find-links", stand, "-c", cons,
               *pip_args(local_install(cell, wheel, constraints))]
        r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), cwd=tmp_path)
        assert r.returncode == 0, f"pip cannot install this cell on Colab without changing Colab's packages:\n{cell}\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
        would = report(out)
        check_additions(would, colab, pip_args(cell)[1])
        print(f"{pip_args(cell)[1].split(' @')[0]}: adds", sorted(f"{n}=={v}" for n, v in would.items() if n not in colab))

# --- the simulated runtime ------------------------------------------------------------------------------------------------
def clean_env(**extra) -> dict:
    "This process's environment without what would show the checkout to a simulated runtime (PYTHONPATH, IN_TEST)."
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IN_TEST")}
    return dict(env, **extra)

def _pip(python:Path, *args):
    "pip in `python`'s environment, run outside the checkout (`python -m` would put its sau_nb.egg-info on the path)."
    r = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *map(str, args)], capture_output=True, text=True,
                       env=clean_env(), cwd=Path(python).parents[1])
    assert r.returncode == 0, f"pip {' '.join(map(str, args))[:300]}\n{r.stdout[-2000:]}{r.stderr[-3000:]}"
    return r

def _site(prefix:Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))

def link_torch(site:Path):
    "Stand in for Colab's PyTorch build: link this environment's own torch and torchvision (and the CUDA libraries they load)."
    from importlib import metadata
    for d in metadata.distributions():
        name = package_name(d.metadata["Name"])
        if name not in ("torch", "torchvision") and not name.startswith(("triton", "nvidia-", "cuda-")): continue
        for top in {Path(f).parts[0] for f in d.files or []} - {".."}:
            if top.endswith(".dist-info") or (site/top).exists(): continue
            if Path(d.locate_file(top)).exists(): (site/top).symlink_to(Path(d.locate_file(top)).resolve())

def colab_base(wheel:Path, constraints:Path) -> Path:
    "The cached runtime: Colab's packages that the install touches and Colab's kernel, at Colab's versions."
    inputs = [settings_requirements(), constraints.read_text(), KERNEL, TORCH_NEEDS, torch.__version__, sys.prefix, sys.version]
    key = hashlib.sha256(FIXTURE.read_bytes() + json.dumps(inputs).encode()).hexdigest()[:16]
    base = CACHE/key
    if (base/"complete").exists(): return base
    for old in CACHE.glob("*"): shutil.rmtree(old, ignore_errors=True)  # one runtime at a time (~0.7 GB)
    base.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", base], check=True)
    py, colab = base/"bin"/"python", colab_versions()
    _pip(py, "install", "-q", *(f"{n}=={colab[n]}" for n in ("pip", "setuptools", "wheel")))
    tmp = base/"plan"
    cons, stand = freeze_constraints(tmp.with_suffix(".txt")), stand_ins(tmp)
    _pip(py, "install", "-q", "--dry-run", "--ignore-installed", "--report", tmp/"plan.json", "--find-links", stand, "-c", cons,
         "-c", constraints, f"sau_nb[gpu] @ {wheel.as_uri()}", *KERNEL, *TORCH_NEEDS)
    plan = {n: v for n, v in report(tmp/"plan.json").items() if n in colab and n not in TORCH}
    _pip(py, "install", "-q", "--no-deps", *(f"{n}=={v}" for n, v in plan.items()))
    _pip(py, "install", "-q", "--no-deps", *(next(stand.glob(f"{n}-*.whl")) for n in TORCH))  # Colab's names and versions
    link_torch(_site(base))  # and code that runs here
    (base/"complete").write_text(json.dumps(sorted(plan) + sorted(TORCH)))
    return base

def child_env(base:Path, where:Path) -> Path:
    "A fresh environment on top of the cached one (a .pth adds its packages), so that each run installs into a clean layer."
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True)
    (_site(where)/"colab_base.pth").write_text(f"import site; site.addsitedir({str(_site(base))!r})\n")
    pip = where/"bin"/"pip"
    pip.write_text(f"#!/bin/sh\nexec {where/'bin'/'python'} -m pip \"$@\"\n"); pip.chmod(0o755)
    return where/"bin"/"python"

DRIVER = r'''
import json, sys, types, time, traceback
from importlib import metadata
from IPython.core.interactiveshell import InteractiveShell
job = json.load(open(sys.argv[1])); out = dict(errors=[], changed={}, timings={})
sh = InteractiveShell.instance()
def run(label, cell):
    r = sh.run_cell(cell, silent=True)
    err = r.error_before_exec or r.error_in_exec
    if err: out["errors"].append(dict(notebook=label, cell=cell[:300], error=f"{type(err).__name__}: {err}"))
    return not err
t = time.time()
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what the install cell looks for
for cell in job["installs"]:
    if run("install cell", cell) and sh.user_ns.get("_exit_code"): out["errors"].append(dict(notebook="install cell", cell=cell[-300:],
                                                                                        error=f"pip exited with {sh.user_ns['_exit_code']}"))
del sys.modules["google.colab"]
out["timings"]["install cells"] = round(time.time() - t, 1)
for name, v in job["colab"].items():
    now = metadata.version(name)
    if now != v: out["changed"][name] = f"{v} -> {now}"
t = time.time()
for label, cells in job["notebooks"].items():
    sh.reset(new_session=False)
    for c in cells:
        if not run(label, c): break
out["timings"]["first cells"] = round(time.time() - t, 1)
t = time.time()
sh.reset(new_session=False)
run("explorer", "from sau_nb.world import load_world\nfrom sau_nb.attention import explore\nimport ipywidgets\n"
                "ui = explore(load_world(), 'a red circle')\nassert type(ui).__name__ == 'interactive' and len(ui.children) >= 4, ui\n"
                "assert ipywidgets.__version__ == '7.7.1', ipywidgets.__version__")
out["timings"]["explorer"] = round(time.time() - t, 1)
json.dump(out, open(sys.argv[2], "w"))
'''

def test_colab_runtime(wheel, constraints, tmp_path):
    _online()
    colab, base = colab_versions(), colab_base(wheel, constraints)
    py = child_env(base, tmp_path/"colab")
    installs = sorted({first_cells(nb)[0] for nb in notebooks().values()})
    for cell in installs:  # pip's own plan for the cell, in the runtime as it is
        out = tmp_path/"plan.json"
        _pip(py, "install", "--dry-run", "--report", out, *pip_args(local_install(cell, wheel, constraints)))
        check_additions(report(out), colab, pip_args(cell)[1])
    present = json.loads((base/"complete").read_text())
    seen, job = {}, dict(installs=[local_install(c, wheel, constraints) for c in installs],
                         colab={n: colab[n] for n in present}, notebooks={})
    for label, nb in notebooks().items():
        cells = tuple(first_cells(nb)[1:])
        if cells not in seen: seen[cells] = label; job["notebooks"][label] = list(cells)
    (tmp_path/"job.json").write_text(json.dumps(job))
    (tmp_path/"driver.py").write_text(DRIVER)
    env = clean_env(PATH=f"{py.parent}:{os.environ['PATH']}", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    r = subprocess.run([py, tmp_path/"driver.py", tmp_path/"job.json", tmp_path/"out.json"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((tmp_path/"out.json").read_text())
    print("timings (s):", res["timings"], "| notebooks' first cells run:", len(job["notebooks"]), "distinct of", len(notebooks()))
    assert not res["changed"], f"the install cells changed Colab's packages: {res['changed']}"
    assert not res["errors"], "\n".join(f"{e['notebook']}: {e['error']}\n  in: {e['cell']}" for e in res["errors"])
