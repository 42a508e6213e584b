"The documentation website (tools/docs.py: nbdev's doc processing + Sphinx, offline) builds with no warning and every page works in a real browser."
import html as H, json, os, re, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"tools"))
import docs  # tools/docs.py
import nbtest  # tools/nbtest.py

from browser import CHROMIUM, chromium as _chromium  # tests/browser.py
SHOTS = Path(os.environ.get("SAU_NB_DOCS_SCREENSHOTS", ROOT/"runs"/"docs_browser"))  # runs/ is git-ignored
KEY_PAGES = ("index", "04_unlearn", "api")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: install it to open the docs in a browser "
                                    "(Debian/Ubuntu: `apt-get install chromium`)")

# Runs on load in every page (and once MathJax has typeset): the h1, each <img>'s state, each link, the ids, the code
# blocks, the prose text, the number of cell outputs, and what sticks out to the right of the content column (`cut`):
# elements wider than the article that no element scrolling on purpose (overflow-x auto or scroll: code blocks, table
# and math wrappers) contains; only the outermost of them is named.
CHECK = """<script>(() => {
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const cutOff = (art) => {
    const right = art.getBoundingClientRect().right, out = [];
    const say = (e, by, px) => out.push(`<${e.tagName.toLowerCase()} class="${e.className}"> ${px} px cut off by ${by}: `
                                        + (e.textContent || '').trim().slice(0, 80));
    for (const e of art.querySelectorAll('*')) {
      const r = e.getBoundingClientRect();
      if (r.width == 0 || e.closest('mjx-assistive-mml')) continue;  // MathML for screen readers: clipped on purpose
      let cut = null;
      for (let p = e.parentElement; p; p = p.parentElement) {
        if (scrolls(p)) break;  // inside an element that scrolls on purpose
        const ox = getComputedStyle(p).overflowX, pr = p.getBoundingClientRect().right;
        if (['hidden', 'clip'].includes(ox) && r.right > pr + 1) { cut = [`<${p.tagName.toLowerCase()} class="${p.className}">`, pr]; break; }
        if (p === art) { if (r.right > right + 1) cut = ['the content column', right]; break; }
      }
      if (!cut) continue;
      const q = e.parentElement;  // only the outermost element that sticks out is named
      if (q && q !== art && q.getBoundingClientRect().right > cut[1] + 1 && !scrolls(q)) continue;
      say(e, cut[0], Math.round(r.right - cut[1]));
    }
    return out;
  };
  // what does not fit and scrolls instead: display equations and tables should fit at the reader's width
  const scrolled = (art) => [...art.querySelectorAll('mjx-container[display="true"], .pst-scrollable-table-container')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `<${e.tagName.toLowerCase()} class="${e.className}"> needs ${e.scrollWidth - e.clientWidth} px more: `
              + (e.textContent || '').trim().slice(0, 80));
  const write = (loaded) => {
    const art = document.querySelector('article') || document.body;
    const prose = art.cloneNode(true);
    prose.querySelectorAll('pre, code, script, style').forEach(e => e.remove());
    const r = {loaded: loaded, h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
      imgs: [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
      links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
      ids: [...document.querySelectorAll('[id]')].map(e => e.id),
      pre: [...art.querySelectorAll('pre')].filter(p => p.id != 'docs-check').map(p => p.textContent),
      text: art.innerText, prose: prose.textContent, outputs: art.querySelectorAll('.cell_output').length,
      math: document.querySelectorAll('.math').length, mjx: document.querySelectorAll('mjx-container').length,
      width: window.innerWidth, cut: cutOff(art), scrolled: scrolled(art),
      page_scrolls: document.documentElement.scrollWidth > document.documentElement.clientWidth + 1};
    let p = document.getElementById('docs-check');
    if (!p) { p = document.createElement('pre'); p.id = 'docs-check'; p.style.display = 'none'; document.body.appendChild(p); }
    p.textContent = JSON.stringify(r);
  };
  write(false);  // the DOM is parsed: links, ids and text are there; images and math need the load event
  window.addEventListener('load', () => {
    const mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;  // typeset, fonts loaded
    Promise.all([mj || Promise.resolve(), document.fonts.ready]).then(() => setTimeout(() => write(true), 300));
  });
})();</script>"""
WIDTH = 1280  # the reader's window: a laptop's (px)

def chromium(*args, profile): return _chromium(*args, profile=profile, timeout=120, offline=True)  # offline: no host resolves

def page_check(html:Path, profile:Path) -> dict:
    "Open a copy of `html` (beside it, so relative links resolve) with the CHECK script; its findings."
    probe = html.with_name(f"_check_{html.stem}.html")
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    try:
        for attempt in range(3):  # on a busy machine headless Chromium now and then dumps the page before its load event
            r = chromium(f"--window-size={WIDTH},2000", "--virtual-time-budget=30000", "--dump-dom", probe.as_uri(),
                         profile=profile)
            m = re.search(r'<pre id="docs-check"[^>]*>(.*?)</pre>', r.stdout, re.S)
            if m and json.loads(H.unescape(m.group(1)))["loaded"]: break
    finally: probe.unlink()
    assert m, f"{html.name}: the check script did not run (rc {r.returncode}): {r.stderr[-2000:]}"
    res = json.loads(H.unescape(m.group(1)))
    assert res["loaded"], f"{html.name}: the page's load event did not come in 3 tries"
    return res

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")/"site"
    # after `make test`'s notebook run (tools/nbtest.py) every recorded output is fresh and nothing runs again; alone,
    # the build first runs the notebooks whose outputs are missing or stale (as `make test` does: minutes)
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"docs.py"), "--out", str(out)], capture_output=True, text=True,
                       timeout=3600, cwd=ROOT)
    print(r.stdout.strip(), file=sys.stderr)
    return out, r

def test_builds_without_warnings(site):
    out, r = site
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    assert "WARNING" not in r.stderr and "ERROR" not in r.stderr, r.stderr[-6000:]
    assert re.search(r", 0 warnings", r.stdout), r.stdout
    # every notebook is a page (discovered, not listed), plus the API reference
    want = {p.stem for p in docs.notebooks()} | {"api"}
    assert want <= {p.stem for p in out.glob("*.html")}, want - {p.stem for p in out.glob("*.html")}

def _shown(c) -> bool:
    "Does the docs page show this executed cell's outputs (not a hidden or exported cell, nor one whose only output is a progress bar, which the page drops)?"
    d = docs._directives(docs._src(c))
    return c["cell_type"] == "code" and bool(docs.clean_outputs(c.get("outputs") or [])) \
        and not d.keys() & {"hide", "export", "exporti", "default_exp"} \
        and d.get("include", "").lower() != "false" and d.get("output", "").lower() != "false"

def _after(html:str, text:str) -> str:
    "The first notebook cell of the page after the prose `text` (myst-nb's `cell` container)."
    i = html.find(text)
    assert i >= 0, f"{text!r} is not on the page"
    j = html.find('<div class="cell docutils container', i)
    assert j >= 0, f"no cell after {text!r}"
    k = html.find('<div class="cell docutils container', j + 10)
    return html[j:k if k > 0 else None]

def test_every_page_shows_its_outputs(site):
    "Each notebook's page shows its cells' outputs from the recorded run with the small settings, figures included."
    out, r = site
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    problems = []
    for nb in docs.notebooks():
        done = nbtest.fresh(nb)
        if done is None: problems.append(f"{nb.stem}: no recorded run of this very notebook and library"); continue
        html = (out/f"{nb.stem}.html").read_text(encoding="utf-8")
        cells = [c for c in done["cells"] if _shown(c)]
        outs = [o.split('<div class="cell docutils container')[0] for o in html.split('<div class="cell_output docutils container')[1:]]
        n_out, n_img = len(outs), sum("<img" in o for o in outs)  # cell outputs, and those that hold a picture
        if cells and not n_out: problems.append(f"{nb.stem}: {len(cells)} cells ran with outputs, the page shows none")
        figs = [c for c in cells if any(k.startswith("image/") for o in c["outputs"] for k in o.get("data", {}))]
        if figs and not n_img: problems.append(f"{nb.stem}: {len(figs)} cells drew figures, the page shows none")
        if "The outputs on this page were recorded by running the notebook" not in html:
            problems.append(f"{nb.stem}: no note saying where the outputs come from")
    assert not problems, "\n".join(problems)
    # the three the issue found missing: 04a's picture of the evidence, 04's loss plot, 07's `check_gpu()`
    page = lambda s: (out/f"{s}.html").read_text(encoding="utf-8")
    assert "<img" in _after(page("04a_blind_verdict"), "The evidence in one picture"), "04a_blind_verdict: no picture under 'The evidence in one picture'"
    assert "<img" in _after(page("04_unlearn"), "The pixel run’s losses"), "04: no loss plot"
    cell = [c for c in page("07_stable_diffusion").split('<div class="cell docutils container')
            if re.search(r'<pre><span></span><span class="n">check_gpu</span><span class="p">\(\)</span>\s*</pre>', c)]
    assert cell and 'cell_output' in cell[0] and "device" in cell[0], "07: check_gpu()'s output is not shown"

def test_toctree_in_reading_order(site):
    out, _ = site
    nav = re.findall(r'<a class="reference internal" href="([^"#]+)\.html"', (out/"index.html").read_text(encoding="utf-8"))
    chapters = [p.stem for p in docs.notebooks()][1:]
    seen = [n for n in dict.fromkeys(nav) if n in chapters + ["api"]]
    assert seen == chapters + ["api"], seen

def _docstring_lines(src:str) -> set:
    "The lines of the docstrings of the functions and classes defined in `src`: show_doc shows them (a formula, say)."
    import ast
    try: tree = ast.parse(src)
    except SyntaxError: return set()
    docs_ = (ast.get_docstring(n, clean=False) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)))
    return {l.strip() for d in docs_ if d for l in d.splitlines()}

def _hidden_lines(nb:Path) -> set:
    "Distinctive code lines of the cells nbdev leaves out of the docs (hide, export, exporti), found in no shown cell."
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    hidden, shown = set(), set()
    for c in cells:
        src = "".join(c["source"])
        if c["cell_type"] != "code": shown |= set(src.splitlines()); continue
        d = docs._directives(src)
        lines = {l.strip() for l in src.splitlines()}
        if d.keys() & {"hide", "export", "exporti", "default_exp"}:
            hidden |= {l for l in lines - _docstring_lines(src) if len(l) >= 30 and not l.startswith(("#", '"', "'", "def ", "class ", "@", ")"))
                       and not re.search(r",\s*(#.*)?$", l)}  # signature lines: show_doc shows them, with their docments
        else: shown |= lines
    shown = {l.strip() for l in shown}
    return {l for l in hidden if l not in shown and not any(l in s for s in shown)}

@needs_chromium
def test_every_page_in_a_browser(site, tmp_path):
    out, r = site
    assert r.returncode == 0, r.stderr[-3000:]
    pages = sorted(out.glob("*.html"))
    with ThreadPoolExecutor(2) as ex:
        res = dict(zip(pages, ex.map(lambda p: page_check(p, tmp_path/f"profile_{p.stem}"), pages)))
    ids = {p: set(re.findall(r'\sid="([^"]+)"', p.read_text(encoding="utf-8"))) for p in pages}
    problems = []
    for page, c in res.items():
        name = page.name
        if not c["h1"]: problems.append(f"{name}: no h1")
        # remote images (none should be left) cannot load here: only local ones are checked, and they must all load
        bad = [i["src"] for i in c["imgs"] if not i["ok"] and not re.match(r"^[a-z]+://", i["src"] or "")]
        if bad: problems.append(f"{name}: images that do not load: {bad}")
        for href in c["links"]:
            u = urlsplit(href)
            if u.scheme or href.startswith("//"): continue
            if not u.path:  # same page
                if u.fragment and unquote(u.fragment) not in set(c["ids"]): problems.append(f"{name}: no #{u.fragment}")
                continue
            target = (page.parent/unquote(u.path)).resolve()
            if not target.is_file(): problems.append(f"{name}: link to a missing file {href}"); continue
            if u.fragment and target.suffix == ".html" and unquote(u.fragment) not in ids.get(target, set()) | \
                    set(re.findall(r'\sid="([^"]+)"', target.read_text(encoding="utf-8"))):
                problems.append(f"{name}: {href}: no such anchor")
        for pre in c["pre"]:
            if re.search(r"^\s*#\s*\|", pre, re.M): problems.append(f"{name}: a `#|` line in a code block: {pre[:200]!r}")
        if "#|" in c["prose"]: problems.append(f"{name}: `#|` in the text outside code")
        nb = ROOT/"nbs"/f"{page.stem}.ipynb"
        if nb.is_file():
            leaked = [l for l in _hidden_lines(nb) if l in c["text"]]
            if leaked: problems.append(f"{name}: hidden or exported cell content shows: {leaked[:3]}")
        if c["cut"]: problems.append(f"{name}: cut off at {WIDTH} px: {c['cut'][:3]}")
        if c["page_scrolls"]: problems.append(f"{name}: the page scrolls sideways at {WIDTH} px")
        if c["scrolled"]: problems.append(f"{name}: a table or display equation does not fit the column at {WIDTH} px "
                                          f"(it scrolls): {c['scrolled'][:3]}; wrap it (tools/docs.py's CSS) or split it")
    assert not problems, "\n".join(problems)
    assert len(res) >= len(docs.notebooks()) + 1

@needs_chromium
def test_math_and_key_pages(site, tmp_path):
    "04_unlearn's math: typeset when a local MathJax is bundled, else at least left as TeX for the CDN's MathJax."
    out, r = site
    assert r.returncode == 0, r.stderr[-3000:]
    c = page_check(out/"04_unlearn.html", tmp_path/"math")
    assert c["math"] > 0, "no math in 04_unlearn"
    if (out/"_static"/"mathjax"/"tex-chtml.js").is_file(): assert c["mjx"] > 0, "the local MathJax did not typeset the math"
    SHOTS.mkdir(parents=True, exist_ok=True)
    from PIL import Image
    import numpy as np
    for stem in KEY_PAGES:
        shot = SHOTS/f"{stem}.png"
        chromium("--hide-scrollbars", f"--window-size={WIDTH},2000", "--virtual-time-budget=15000", f"--screenshot={shot}",
                 (out/f"{stem}.html").as_uri(), profile=tmp_path/f"shot_{stem}")
        assert shot.is_file(), stem
        im = np.asarray(Image.open(shot).convert("RGB"))
        assert im.shape[:2] == (2000, WIDTH) and im.std() > 10, (stem, im.shape, im.std())  # a rendered page, not a blank one
    print(f"screenshots of the docs: {SHOTS}", file=sys.stderr)

def test_post_step_markers():
    "The Quarto-only markers become cell tags / a title, and no `#|` line is left (unit test of tools/docs.py's post-step)."
    nb = {"metadata": {}, "cells": [
        {"cell_type": "raw", "metadata": {}, "source": "---\ntitle: World\ndescription: A tiny world\noutput-file: world.html\n---"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "#| echo: false\nx = 1\nx"},
        {"cell_type": "code", "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}],
         "source": "#| output: false\nprint(1)"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "#| include: false\nsecret = 1"},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "#| echo: false\nshow_doc(f)",
         "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"text/markdown": "---\n\n### f\n\n*doc*"}}]}]}
    cells = docs.convert(nb)["cells"]
    assert cells[0] == {"cell_type": "markdown", "metadata": {}, "source": "# World\n\n> A tiny world\n"}
    assert cells[1]["metadata"]["tags"] == ["remove-input"] and cells[1]["source"] == "x = 1\nx"
    assert cells[2]["metadata"]["tags"] == ["remove-output"] and cells[2]["outputs"] == []
    assert "secret" not in json.dumps(cells)
    assert cells[3] == {"cell_type": "markdown", "metadata": {}, "source": "### f\n\n*doc*"}
    assert "#|" not in json.dumps(cells)

def test_links_rewritten():
    links = docs.Links(["index", "00_world", "04_unlearn"], docs.settings())
    anchors = {"04_unlearn": {"sau_unlearn": "sau_unlearn"}, "00_world": {}}
    md = ("[a](04_unlearn.ipynb) [b](https://sau-nb.github.io/sau_nb/unlearn.html#sau_unlearn) [c](04_unlearn.ipynb#nope) "
          "[d](https://example.com/x.ipynb) [e](images/x.png) [f](world.html#load_world)")
    assert links.md(md, anchors) == ("[a](04_unlearn.ipynb) [b](04_unlearn.ipynb#sau_unlearn) [c](04_unlearn.ipynb) "
                                     "[d](https://example.com/x.ipynb) [e](images/x.png) [f](world.html#load_world)")

def test_recorded_outputs_merged(tmp_path):
    "Unit test of the outputs' path: an executed copy is used only for its own notebook and library; outputs land on the cells that made them."
    nb = {"metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# T"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "#| hide\nx = 1"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x + 1"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "print('hi')"}]}
    fn = tmp_path/"t.ipynb"; fn.write_text(json.dumps(nb), encoding="utf-8")
    bar = "\rscan:   0%|          | 0/4 [00:00<?, ?it/s]\rscan: 100%|##########| 4/4 [00:01<00:00, 3.1it/s]\n"
    done = {"metadata": {}, "cells": [  # as nbdev's processor leaves it: the title moved into front matter
        {"cell_type": "raw", "metadata": {}, "source": "---\ntitle: T\n---"},
        {"cell_type": "code", "metadata": {}, "source": "#| hide\nx = 1", "outputs": []},
        {"cell_type": "code", "metadata": {}, "source": "x + 1", "execution_count": 2,
         "outputs": [{"output_type": "execute_result", "metadata": {}, "data": {"text/plain": "2"}, "execution_count": 2}]},
        {"cell_type": "code", "metadata": {}, "source": "print('hi')", "outputs": [
            {"output_type": "stream", "name": "stderr", "text": bar},
            {"output_type": "stream", "name": "stdout", "text": "hi\n"}]}]}
    out = tmp_path/"executed"; out.mkdir()
    (out/"t.ipynb").write_text(json.dumps({**done, "metadata": {nbtest.KEY: nbtest.record(fn, 1.0)}}), encoding="utf-8")
    got = nbtest.fresh(fn, out)
    assert got is not None and docs.merge_outputs(nb, got) == 2
    assert nb["cells"][2]["outputs"][0]["data"]["text/plain"] == "2"
    assert nb["cells"][3]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]  # no progress bar
    assert "The outputs on this page were recorded" in docs.run_note(got["metadata"][nbtest.KEY])
    fn.write_text(json.dumps({**nb, "cells": nb["cells"][:3]}), encoding="utf-8")  # the notebook changed since its run
    assert nbtest.fresh(fn, out) is None

def test_nbtest_runs_what_it_is_given(tmp_path):
    "tools/nbtest.py takes nbdev_test's options (only the notebook named runs) and keeps the executed notebook with its record."
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "import os\nprint(21 * 2, os.environ['IN_TEST'])"}]}
    fn = tmp_path/"tiny.ipynb"; fn.write_text(json.dumps(nb), encoding="utf-8")
    out = tmp_path/"executed"
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"nbtest.py"), "--path", str(fn), "--timing"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env={**os.environ, "SAU_NB_EXECUTED": str(out)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert [p.name for p in out.iterdir()] == ["tiny.ipynb"], list(out.iterdir())  # this one notebook, not the whole project
    assert re.findall(r"^(\S+\.ipynb): \d+ secs$", r.stdout, re.M) == ["tiny.ipynb"], r.stdout
    done = nbtest.fresh(fn, out)
    assert done and "42 1" in json.dumps(done["cells"][0]["outputs"]), done

def test_streams_as_a_reader_sees_them():
    "Progress bars go; a warning keeps its category and message, not the build machine's path nor the source line under it."
    t = ("/home/x/sau_nb/defend.py:155: UserWarning: The scan's budget stopped it after 256 of 49406 tokens\n"
         "  if left: warnings.warn(f\"The scan's budget ...\")\nhello\n\rscan:   0%|   | 0/4 [00:00<?, ?it/s]\rscan: 100%|###| 4/4 [00:01<00:00, 3.1it/s]\nbye\n")
    assert docs.clean_stream(t) == "UserWarning: The scan's budget stopped it after 256 of 49406 tokens\nhello\nbye"
    assert docs.clean_stream("<ipython-input-1-5fc4>:64: UserWarning: a budget\n  warnings.warn(f'a budget')\n") == "UserWarning: a budget"

def test_pytest_takes_the_longest_files_first():
    "`make test`'s pytest keeps conftest's order (xdist would reorder the files by their number of tests): the lab copies' runs first."
    import conftest
    assert "--dist loadfile --no-loadscope-reorder tests" in (ROOT/"Makefile").read_text()
    assert max(conftest.TYPICAL, key=conftest.TYPICAL.get) == "test_labs.py"
    gone = [f for f in conftest.TYPICAL if not (ROOT/"tests"/f).is_file()]
    assert not gone, f"tests/conftest.py's TYPICAL names files that are gone: {gone}"

def test_nbtest_starts_the_longest_first(tmp_path, monkeypatch):
    "With two workers the longest notebooks start first; results come back in the order nbdev_test gave the notebooks."
    monkeypatch.setattr(nbtest, "EXECUTED", tmp_path)  # no records: the typical seconds decide
    files = [Path(f"nbs/{n}.ipynb") for n in ("00_core", "08a_demo", "new_chapter", "04_unlearn")]
    started = []
    def serial(f, items, **kwargs): return [started.append(i.stem) or f(i) for i in items]
    assert nbtest.longest_first(serial)(lambda p: p.stem.upper(), files) == ["00_CORE", "08A_DEMO", "NEW_CHAPTER", "04_UNLEARN"]
    assert started == ["08a_demo", "04_unlearn", "00_core", "new_chapter"]
    rec = tmp_path/"00_core.ipynb"; rec.write_text(json.dumps({"metadata": {nbtest.KEY: {"seconds": 5000.0}}}))
    assert nbtest.expected_seconds(files[0]) == 5000.0  # a recorded run wins
