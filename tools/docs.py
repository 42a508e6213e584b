"""Build the documentation website from `nbs/`, offline and without Quarto: `python tools/docs.py [--out _docs]`.

1. Every page shows its cells' outputs from a recorded run with the small settings (`IN_TEST=1`, as `make test` runs
   the notebooks): `tools/nbtest.py` (nbdev_test that keeps what it ran; `make test` runs it) leaves each executed
   notebook in `runs/executed/` with the hashes of the notebook and the library; a notebook whose copy is missing or
   was made from another notebook or library is run here first, the same way. So after `make test` nothing runs again.
2. nbdev's own doc processing (`nbdev.serve.proc_nbs`: hidden and exported cells removed, `show_doc` entries added),
   run on a snapshot of `nbs/` (with those outputs) in a temporary folder, so `_proc/` and `nbs/` are not touched.
3. A post-step turns Quarto-only markers into what Sphinx + myst-nb understand (cell tags, a page title, no `#|` lines),
   rewrites links between notebooks and to the would-be published site into local page links, and drops progress bars.
4. `sphinx-build -W --keep-going -b html` with myst-nb (outputs as recorded: never executed by Sphinx),
   sphinx-book-theme, and an API reference page: nbdev's `show_doc` entry for every function and class in each
   module's `__all__`.
"""
import argparse, ast, configparser, json, os, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtest  # tools/nbtest.py: nbdev_test that keeps the executed notebooks

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
LIB = "sau_nb"

def settings() -> dict:
    cp = configparser.ConfigParser(interpolation=None); cp.read(ROOT/"settings.ini", encoding="utf-8")
    return dict(cp["DEFAULT"])

def notebooks(nbs:Path=NBS) -> list:
    "Every notebook in reading order: `index.ipynb` (the home page) first, then the chapters sorted by file name."
    nbs = sorted(p for p in nbs.glob("*.ipynb") if not p.name.startswith((".", "_")))
    return sorted(nbs, key=lambda p: (p.stem != "index", p.name))

# --- 1. Outputs from a recorded run with the small settings --------------------------------------------------------
def run_notebooks(nbs:list, n_workers:int) -> dict:
    "Run notebooks `nbs` as `make test` does (`tools/nbtest.py`, `IN_TEST=1`), `n_workers` at a time: {stem: error or ''}."
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONWARNINGS": "ignore"}
    def one(p):
        r = subprocess.run([sys.executable, str(ROOT/"tools"/"nbtest.py"), "--path", str(p)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        return "" if r.returncode == 0 and nbtest.fresh(p) else (r.stderr or r.stdout)[-3000:] or f"exit {r.returncode}"
    with ThreadPoolExecutor(max(1, n_workers)) as ex: return dict(zip([p.stem for p in nbs], ex.map(one, nbs)))

def recorded(n_workers:int, execute:bool=True) -> tuple:
    """The executed copy of every notebook ({stem: notebook or None}) and the stems that had to run first. With
    `execute=False` a missing or stale copy is left out (its page shows no outputs) instead of being run."""
    nbs = notebooks()
    stale = [p for p in nbs if nbtest.fresh(p) is None]
    if stale and execute:
        print(f"docs: running {len(stale)} notebooks whose outputs are missing or stale ({', '.join(p.stem for p in stale)})",
              file=sys.stderr)
        failed = {k: v for k, v in run_notebooks(stale, n_workers).items() if v}
        if failed: sys.exit("These notebooks fail under test, so their pages would have no outputs: fix them first.\n" +
                            "\n".join(f"--- {k}\n{v}" for k, v in failed.items()))
    return {p.stem: nbtest.fresh(p) for p in nbs}, [p.stem for p in stale]

_RE_ANSI = re.compile(r"\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])")
_RE_WARNING = re.compile(r"^\S.*?(?:\.py|>):\d+: (\w*Warning): (.*)$")  # a file, or <ipython-input-...>
_RE_BAR = re.compile(r"\d+%\||\|\s*\d+/\d+\s*\[|\d+(\.\d+)?(it/s|s/it)\]")  # a tqdm progress bar's line

def clean_stream(text:str) -> str:
    "A stream as the reader should see it: each line's last state (after `\\r`), no ANSI codes, no progress bars."
    last = lambda l: next((x for x in reversed(l.split("\r")) if x.strip()), "")
    lines, out, skip = [_RE_ANSI.sub("", last(l)) for l in text.split("\n")], [], False
    for l in lines:
        if _RE_BAR.search(l) or (skip and l.startswith("  ")): skip = False; continue
        m = _RE_WARNING.match(l)  # Python's warning line: the build machine's path out, and the source line under it too
        out.append(f"{m[1]}: {m[2]}" if m else l); skip = bool(m)
    return "\n".join(out).strip("\n")

def clean_outputs(outs:list) -> list:
    "The outputs to show: streams cleaned (`clean_stream`), empty ones dropped."
    res = []
    for o in outs:
        if o.get("output_type") == "stream":
            t = clean_stream(_src({"source": o.get("text", "")}))
            if not t.strip(): continue
            o = {**o, "text": t + "\n"}
        res.append(o)
    return res

def merge_outputs(nb:dict, done:dict) -> int:
    "Copy the executed notebook `done`'s outputs into `nb`'s code cells, matched in order by source; cells given outputs."
    ran, i, n = [c for c in done["cells"] if c["cell_type"] == "code"], 0, 0
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        j = next((k for k in range(i, len(ran)) if _src(ran[k]).strip() == _src(c).strip()), None)
        if j is None: continue
        c["outputs"], i = clean_outputs(ran[j].get("outputs") or []), j + 1
        c["execution_count"] = ran[j].get("execution_count")
        n += bool(c["outputs"])
    return n

def run_note(rec:dict) -> str:
    "The note under each page's title: where its outputs come from."
    return (":::{note}\nThe outputs on this page were recorded by running the notebook with its small settings "
            f"(`IN_TEST=1`, as `make test` runs it) on {rec['date']} ({rec['machine']}; {rec['seconds']:.0f} s).\n:::")

# --- 2. nbdev's doc processing on a snapshot -------------------------------------------------------------------------
_SHOW_DIRS = {"export", "exports", "exporti", "exec_doc"}
_RE_SHOWDOC = re.compile(r"^show_doc", re.M)
_RE_DIRECTIVE = re.compile(r"^\s*#\s*\|\s*([\w-]+:?)\s*(.*)$")

def _directives(src:str) -> dict:
    return {m[1].rstrip(":"): m[2].strip() for m in map(_RE_DIRECTIVE.match, src.splitlines()) if m}

def _mixed_import_cell(src:str) -> bool:
    "A cell nbdev would execute for `show_doc` only because it imports, although it also runs other code."
    d = _directives(src)
    if d.keys() & _SHOW_DIRS or d.get("eval", "").lower() == "false": return False
    try: tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
    except SyntaxError: return False
    nodes = list(ast.walk(tree))
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes) and \
           any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes)

def snapshot(stage:Path, executed:dict|None=None) -> dict:
    """Copy `settings.ini` and `nbs/` into `stage`, each notebook with its recorded outputs (`executed`: {stem: executed
    notebook}). Cells that mix imports with other code get `#| eval: false`: nbdev would run them to prepare
    `show_doc` (its FAQ: keep imports in their own cells), which means running the lessons again (minutes, files
    written); the exported cells and `show_doc` calls are all the API pages need. Returns {stem: cells with outputs}."""
    shutil.copy2(ROOT/"settings.ini", stage/"settings.ini")
    dst, shown = stage/"nbs", {}
    shutil.copytree(NBS, dst, ignore=shutil.ignore_patterns(".*", "_*", "*.ipynb"))
    for p in notebooks():
        nb = json.loads(p.read_text(encoding="utf-8"))
        done = (executed or {}).get(p.stem)
        shown[p.stem] = merge_outputs(nb, done) if done else 0
        for c in nb["cells"]:
            src = _src(c)
            if c["cell_type"] == "code" and _mixed_import_cell(src): c["source"] = "#| eval: false\n" + src
        (dst/p.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return shown

def proc(stage:Path, n_workers:int) -> Path:
    "Run `nbdev.serve.proc_nbs` with `stage` as the project folder (its `_proc/` lands in `stage`)."
    code = f"from nbdev.serve import proc_nbs; print(proc_nbs(n_workers={n_workers}, force=True))"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, "-c", code], cwd=stage, env=env, capture_output=True, text=True)
    if r.returncode: sys.exit(f"proc_nbs failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}")
    return stage/"_proc"

# --- 3. Quarto markers -> Sphinx / myst-nb -----------------------------------------------------------------------------
def _src(c) -> str: return "".join(c.get("source") or "") if isinstance(c.get("source"), list) else (c.get("source") or "")

def _front_matter(src:str):
    m = re.match(r"\s*---\s*\n(.*?)\n---\s*$", src, re.S)
    if not m: return None
    import yaml
    try: d = yaml.safe_load(m[1])
    except yaml.YAMLError: return None
    return d if isinstance(d, dict) else None

class Links:
    "Rewrite links to other notebooks and to the published site (`doc_host` + `doc_baseurl`) into local page links."
    def __init__(self, pages:list, cfg:dict):
        self.pages = set(pages) | {"api"}  # page names: notebook stems and the API page
        self.site = (cfg.get("doc_host", "").rstrip("/") + "/" + cfg.get("doc_baseurl", "").strip("/")).rstrip("/") + "/"
        from nbdev.doclinks import _nbpath2html
        self.html2stem = {_nbpath2html(Path(s + ".ipynb")).name[:-len(".html")]: s for s in pages}  # world -> 00_world

    def target(self, url:str):
        "Local page (stem, anchor) for `url`, or None when it is not a link to one of our pages."
        if self.site != "/" and url.startswith(self.site): 
            path, _, anchor = url[len(self.site):].partition("#")
            name = Path(path).name or "index.html"
            stem = self.html2stem.get(name[:-5]) if name.endswith(".html") else None
            return (stem, anchor) if stem else None
        if re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith(("/", "#")): return None
        path, _, anchor = url.partition("#")
        p = Path(path)
        if p.suffix in (".ipynb", ".html", ".md") and p.stem in self.pages and p.parent.name in ("", "nbs", "."):
            return p.stem, anchor
        return None

    def md(self, text:str, anchors:dict) -> str:
        "Markdown links `[..](url)` to our pages become `[..](stem.ipynb#anchor)` (anchor kept only where it exists)."
        def sub(m):
            t = self.target(m[2])
            if t is None: return m[0]
            stem, anchor = t
            anchor = anchors.get(stem, {}).get(anchor.lower(), "") if anchor else ""
            return f"{m[1]}({stem}.{'md' if stem == 'api' else 'ipynb'}{'#' + anchor if anchor else ''})"
        return re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", sub, text)

def _ids(md:str) -> dict:
    "{anchor as nbdev writes it (lower case): myst's slug} for the headings of markdown `md` (`myst_heading_anchors`)."
    from myst_parser.mdit_to_docutils.base import default_slugify
    out, fence = {}, False
    for l in md.splitlines():
        if l.lstrip().startswith("```"): fence = not fence
        m = None if fence else re.match(r"^#{1,4}\s+(.*?)\s*#*\s*$", l)
        if not m: continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m[1]).replace("`", "")
        slug = default_slugify(text)
        for k in (text.lower(), text.lower().replace(" ", "-"), slug): out.setdefault(k, slug)
    return out

def _anchors(nb:dict) -> dict:
    out = {}
    for c in nb["cells"]:
        if c["cell_type"] == "markdown": out.update({k: v for k, v in _ids(_src(c)).items() if k not in out})
    return out

def convert(nb:dict) -> dict:
    "Quarto-only markers -> myst-nb: front matter -> H1 + summary, `#|` directives -> cell tags, no `---` in show_doc."
    cells = []
    for c in nb["cells"]:
        src = _src(c)
        if c["cell_type"] == "raw":
            fm = _front_matter(src)
            if fm is None: cells.append(c); continue
            md = (f"# {fm['title']}\n" if fm.get("title") else "") + (f"\n> {fm['description']}\n" if fm.get("description") else "")
            if md: cells.append({"cell_type": "markdown", "metadata": {}, "source": md})
            continue
        if c["cell_type"] == "markdown":
            if not src.strip() or re.fullmatch(r"\s*<!--.*?-->\s*", src, re.S): continue  # nbdev's "autogenerated" note
            c["source"] = src; cells.append(c); continue
        d = _directives(src)
        if d.get("include", "").lower() == "false": continue
        tags = set(c.get("metadata", {}).get("tags", []))
        if d.get("echo", "").lower() == "false": tags.add("remove-input")
        if d.get("output", "").lower() == "false": tags.add("remove-output")
        src = "\n".join(l for l in src.splitlines() if not _RE_DIRECTIVE.match(l)).strip("\n")
        outs = c.get("outputs", [])
        if "remove-output" in tags: outs = []
        for o in outs:
            md = o.get("data", {}).get("text/markdown")
            if md is not None:
                s = "".join(md) if isinstance(md, list) else md
                o["data"]["text/markdown"] = re.sub(r"^\s*---\s*\n", "", s)
        if not src.strip() and not outs: continue
        mds = [o.get("data", {}).get("text/markdown") for o in outs]
        if _RE_SHOWDOC.search(src) and outs and all(isinstance(m, str) for m in mds):
            # a `show_doc` entry: its markdown becomes the page's own, so its heading is a section (TOC entry, anchor)
            cells += [{"cell_type": "markdown", "metadata": {}, "source": m} for m in mds]; continue
        if not src.strip(): tags.add("remove-input")
        meta = {k: v for k, v in c.get("metadata", {}).items() if k != "tags"}
        if tags: meta["tags"] = sorted(tags)
        cells.append({**c, "source": src, "metadata": meta, "outputs": outs, "execution_count": None})
    nb["cells"] = cells
    nb["metadata"].setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb["metadata"].setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    return nb

# Remote images that the project also keeps in `nbs/`: the local copy is used, so the pages load them offline.
LOCAL_COPIES = {"https://colab.research.google.com/assets/colab-badge.svg": "images/colab-badge.svg"}

def local_images(md:str, folder:Path) -> str:
    for url, local in LOCAL_COPIES.items():
        if (folder/local).is_file(): md = md.replace(f"]({url})", f"]({local})")
    return md

_RE_SOURCE_ATTRS = re.compile(r'(\[source\]\([^)]*\))\{target="_blank" style="float:right; font-size:smaller"\}')

def markdown(md:str) -> str:
    """Pandoc (Quarto) markdown -> MyST: a `$$` display block inside a paragraph gets blank lines around it (MyST only
    sees display math as its own block); show_doc's inline-styled [source] link gets a class the site's CSS floats."""
    parts = re.split(r"(^```.*?^```[ \t]*$)", md, flags=re.M | re.S)  # leave fenced code alone
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\n*^(\$\$.+?\$\$)[ \t]*$\n*", lambda m: f"\n\n{m[1]}\n\n", parts[i], flags=re.M | re.S)
        parts[i] = _RE_SOURCE_ATTRS.sub(r'\1{.nbdev-source target="_blank"}', parts[i])
    return "".join(parts).strip("\n") + ("\n" if md.endswith("\n") else "")

CSS = """.nbdev-source { float: right; font-size: smaller; }
/* Nothing cut off at 1,280 px (tests/test_docs.py checks every page at that width): */
/* a wider reading column, with a narrower table of contents on the right and a narrower menu on the left; */
@media (min-width: 1200px) {
  :root { --pst-sidebar-secondary: 12rem; }
  .bd-sidebar-primary { flex-basis: 16%; }
}
.bd-sidebar-secondary nav.page-toc a { overflow-wrap: anywhere; }  /* long names (check_unlearn_inputs) wrap too */
/* tables wrap their cells' text (code included) instead of running off to the right; what still cannot fit scrolls; */
.bd-article table.table { font-size: 0.9em; }
.bd-article table.table th, .bd-article table.table td { white-space: normal; overflow-wrap: anywhere; padding: .35em .5em; }
/* display equations shrink to the column and scroll there, instead of being clipped by their box (pydata clips .math). */
div.math > mjx-container { min-width: 0; }
span.math { overflow: visible; }
"""

def add_note(nb:dict, note:str):
    "Put `note` right under the page's title (its first markdown cell that starts with an H1), else first."
    cells = nb["cells"]
    i = next((k + 1 for k, c in enumerate(cells) if c["cell_type"] == "markdown" and _src(c).lstrip().startswith("# ")), 0)
    cells.insert(i, {"cell_type": "markdown", "metadata": {}, "source": note})

def postprocess(procd:Path, src:Path, cfg:dict, pages:list, api_md:str, notes:dict|None=None):
    nbs = {s: convert(json.loads((procd/f"{s}.ipynb").read_text(encoding="utf-8"))) for s in pages}
    for s, note in (notes or {}).items():
        if s in nbs: add_note(nbs[s], note)
    anchors = {s: _anchors(nb) for s, nb in nbs.items()}
    anchors["api"] = _ids(api_md)
    links = Links(pages, cfg)
    for s, nb in nbs.items():
        for c in nb["cells"]:
            if c["cell_type"] == "markdown": c["source"] = markdown(local_images(links.md(_src(c), anchors), procd))
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}): o["data"]["text/markdown"] = links.md(o["data"]["text/markdown"], anchors)
        if s == "index":  # the home page carries the toctree: every chapter in reading order, then the API page
            toc = "\n".join([":hidden:", ":maxdepth: 1", "", *pages[1:], "api"])
            nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"```{{toctree}}\n{toc}\n```"})
        (src/f"{s}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    (src/"api.md").write_text(markdown(links.md(api_md, anchors)), encoding="utf-8")
    (src/"_static").mkdir(exist_ok=True); (src/"_static"/"nbdev.css").write_text(CSS, encoding="utf-8")
    for p in procd.iterdir():  # images and other files beside the notebooks (not pages: Sphinx would want them in the toc)
        if p.suffix in (".ipynb", ".md", ".rst", ".qmd", ".py", ".yml", ".yaml") or p.name.startswith((".", "_")): continue
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, src/p.name)

# --- 4. Sphinx ---------------------------------------------------------------------------------------------------------
def modules() -> list:
    "The library's modules (one per chapter), from the files nbdev exported."
    return sorted(f"{LIB}.{p.stem}" for p in (ROOT/LIB).glob("*.py") if not p.stem.startswith("_"))

def _chapter(mod:str):
    """The chapter a module is taught in: the notebook of its first cell from `nbs/` itself (nbdev's `# %% ../nbs/NAME.ipynb` line).
    A module that a chapter fills with `#| export MODULE` cells is named by a notebook in `nbs/modules/`, which is no page."""
    m = re.search(r"^# %% \S*?/nbs/([^/\s]+)\.ipynb", (ROOT/LIB/(mod.split(".")[-1] + ".py")).read_text(encoding="utf-8"), re.M)
    return m[1] if m else None

def api_page(mods:list, pages:list) -> str:
    """The API reference in markdown: nbdev's own `show_doc` entry (signature, docstring, docments table) for every
    public function and class in each module's `__all__`; other exported names listed with their type."""
    import importlib, inspect
    from nbdev.showdoc import show_doc
    out = ["# API reference", "", f"> Every public function and class that `{LIB}` exports, module by module "
           "(each module's `__all__`), as `show_doc` renders it in the chapters.", ""]
    for name in mods:
        mod = importlib.import_module(name)
        nb = _chapter(name)
        out += [f"## {name}", ""]
        doc = (mod.__doc__ or "").strip()
        if doc: out += [doc, ""]
        if nb in pages: out += [f"Chapter: [{nb}]({nb}.ipynb)", ""]
        objs = [(n, getattr(mod, n)) for n in getattr(mod, "__all__", []) if hasattr(mod, n)]
        objs = [(n, o) for n, o in objs if getattr(o, "__module__", name) == name or not (inspect.isclass(o) or inspect.isfunction(o))]  # re-exports: documented where defined
        others = [n for n, o in objs if not (inspect.isclass(o) or inspect.isfunction(o))]
        for n, o in objs:
            if n in others: continue
            md = show_doc(o, name=n)._repr_markdown_()
            out += [re.sub(r"^\s*---\s*\n", "", md), ""]
        if others:
            out += ["### Other exported names", "", "| name | type |", "| --- | --- |",
                    *[f"| `{n}` | `{type(getattr(mod, n)).__name__}` |" for n in others], ""]
    return "\n".join(out)

CONF = '''# Written by tools/docs.py: do not edit, rerun it.
import sys
sys.path.insert(0, {root!r})
project = {title!r}
author = {author!r}
copyright = {copyright!r}
release = version = {version!r}
extensions = ["myst_nb", "sphinx.ext.mathjax"]
nb_execution_mode = "off"                       # notebooks are committed without outputs; never run them here
nb_merge_streams = True
nb_render_markdown_format = "myst"            # markdown outputs (tables) as the pages' own markdown
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "attrs_inline"]
myst_heading_anchors = 4
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = []                          # every warning fails the build (-W)
html_title = {title!r}
html_theme = "sphinx_book_theme"
html_theme_options = {{"repository_url": {git_url!r}, "use_repository_button": False, "home_page_in_toc": True,
                      "show_navbar_depth": 1, "extra_footer": {description!r}}}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["nbdev.css"]
html_baseurl = {baseurl!r}
{mathjax}
'''

def conf_py(cfg:dict, mathjax:str) -> str:
    return CONF.format(root=str(ROOT), title=cfg["title"], author=cfg["author"], copyright=cfg["copyright"],
                       version=cfg["version"], git_url=cfg["git_url"], description=cfg["description"],
                       baseurl=cfg["doc_host"].rstrip("/") + "/" + cfg["doc_baseurl"].strip("/") + "/",
                       mathjax=mathjax)

MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts", "input/tex/extensions")

def local_mathjax():
    """A MathJax folder on this machine (holding `tex-chtml.js`), so math renders offline: `$SAU_NB_MATHJAX`, else one
    that an installed package ships (`sphinx-mathjax-offline` does); None means the page loads MathJax from its CDN."""
    env = os.environ.get("SAU_NB_MATHJAX")
    if env: return Path(env) if (Path(env)/"tex-chtml.js").is_file() else None
    for d in map(Path, sys.path):
        if not d.is_dir() or d.name != "site-packages": continue
        for js in (*d.glob("*/static/mathjax/tex-chtml.js"), *d.glob("*/mathjax/tex-chtml.js")): return js.parent
    return None

def copy_mathjax(mj:Path, static:Path) -> str:
    "The parts of MathJax that the pages load, as `_static/mathjax`; returns the conf.py lines that use it."
    for part in MATHJAX_PARTS:
        s, d = mj/part, static/"mathjax"/part
        if s.is_dir(): shutil.copytree(s, d)
        elif s.is_file(): d.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(s, d)
    return 'mathjax_path = "mathjax/tex-chtml.js"  # a local copy: math renders offline'

def build(out:Path, n_workers:int=2, keep:Path=None, execute:bool=True) -> dict:
    t0 = time.time()
    cfg = settings()
    pages = [p.stem for p in notebooks()]
    executed, ran = recorded(n_workers, execute); t1 = time.time()
    stage = Path(tempfile.mkdtemp(prefix="sau_nb_docs_"))
    try:
        shown = snapshot(stage, executed)
        procd = proc(stage, n_workers); t2 = time.time()
        src = stage/"src"; src.mkdir()
        notes = {s: run_note(nb["metadata"][nbtest.KEY]) for s, nb in executed.items() if nb}
        postprocess(procd, src, cfg, pages, api_page(modules(), pages), notes)
        mj = local_mathjax()
        mathjax = copy_mathjax(mj, src/"_static") if mj else "# no local MathJax found: pages load it from its CDN"
        (src/"conf.py").write_text(conf_py(cfg, mathjax), encoding="utf-8")
        html = stage/"site"/"html"  # myst-nb writes jupyter_execute/ beside the output folder: keep both in the stage
        cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", "-j", str(n_workers),
               "-d", str(stage/"doctrees"), str(src), str(html)]
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if out.exists(): shutil.rmtree(out)
        if html.exists(): shutil.copytree(html, out)
        if keep: shutil.rmtree(keep, ignore_errors=True); shutil.copytree(src, keep)
    finally: shutil.rmtree(stage, ignore_errors=True)
    t3 = time.time()
    warnings = [l for l in r.stderr.splitlines() if "WARNING" in l or "ERROR" in l]
    res = dict(rc=r.returncode, mathjax=str(mj) if mj else None, pages=len(list(out.glob("*.html"))) if out.exists() else 0,
               warnings=warnings, ran=ran if execute else [], no_outputs=[s for s in pages if not executed.get(s)],
               cells_with_outputs=shown, run_s=round(t1 - t0, 1), proc_s=round(t2 - t1, 1), sphinx_s=round(t3 - t2, 1),
               total_s=round(t3 - t0, 1), stderr=r.stderr)
    return res

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT/"_docs"), help="folder for the HTML site (replaced)")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="processes for nbdev and Sphinx")
    ap.add_argument("--keep-src", default=None, help="also keep the generated Sphinx source folder here (to debug)")
    ap.add_argument("--no-execute", action="store_true", help="run no notebook: pages whose recorded outputs are "
                    "missing or stale show none (the summary names them)")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    res = build(out, a.workers, Path(a.keep_src).resolve() if a.keep_src else None, execute=not a.no_execute)
    if res["stderr"].strip(): print(res["stderr"], file=sys.stderr)
    print(f"docs: {res['pages']} pages in {out} ({res['total_s']} s: notebooks run {res['run_s']} s "
          f"[{len(res['ran'])} run: {' '.join(res['ran']) or ('none, all recorded outputs fresh' if not a.no_execute else 'none, --no-execute')}], "
          f"nbdev {res['proc_s']} s, "
          f"sphinx {res['sphinx_s']} s), {sum(res['cells_with_outputs'].values())} cells with outputs, "
          f"{len(res['warnings'])} warnings; MathJax: {res['mathjax'] or 'CDN (no local copy found)'}")
    if res["no_outputs"]: print(f"docs: pages without outputs (no fresh recorded run): {', '.join(res['no_outputs'])}")
    return 1 if res["rc"] or res["warnings"] else 0

if __name__ == "__main__": sys.exit(main())
