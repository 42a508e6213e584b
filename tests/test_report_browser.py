"The HTML report in a real browser: headless Chromium opens it, every (embedded) image loads, it reads verdict first, and a screenshot is kept."
import base64, json, os, re, shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
from browser import CHROMIUM, chromium  # tests/browser.py
SCREENSHOT = Path(os.environ.get("SAU_NB_SCREENSHOT", ROOT/"runs"/"report_browser"/"screenshot.png"))  # runs/ is git-ignored

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: install it to run the browser test of the HTML "
                                "report (Debian/Ubuntu: `apt-get install chromium`; .ci/run does this)")

CHECK = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const p = document.createElement('pre'); p.id = 'img-check';
  p.textContent = JSON.stringify({n: imgs.length, widths: imgs.map(i => i.naturalWidth), srcs: imgs.map(i => i.getAttribute('src').slice(0, 22)),
                                  bad: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)});
  document.body.appendChild(p);
});</script>"""

def image_check(html_file:Path, tmp:Path) -> dict:
    "Open a copy of `html_file` with a script that records every <img>'s state."
    probe = html_file.with_name("_browser_check.html")
    probe.write_text(html_file.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    try: r = chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(), profile=tmp)
    finally: probe.unlink()
    m = re.search(r'<pre id="img-check">(.*?)</pre>', r.stdout, re.S)
    assert m, f"the check script did not run (rc {r.returncode}): {r.stderr[-2000:]}"
    return json.loads(m.group(1))

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from sau_nb.backdoors import shipped_zoo
    from sau_nb.evaluate import compare
    from sau_nb.world import heldout_prompts
    out = tmp_path_factory.mktemp("browser")/"report"
    compare(shipped_zoo()[:1], ["uce", "perturb"], seeds=range(1), prompts=heldout_prompts()[:2], out=out, progress=False)
    return out

def test_one_self_contained_page(report):
    assert sorted(p.name for p in report.iterdir()) == ["report.html", "results.json"]
    page = (report/"report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=['"](?!data:)""", page), "the page links a file: the report must travel as one file"

def test_every_image_loads(report, tmp_path):
    res = image_check(report/"report.html", tmp_path)
    n_models = len(json.loads((report/"results.json").read_text())["config"]["models"])
    assert res["n"] == 1 + n_models, res  # one grid per model and the bars
    assert res["bad"] == [] and all(w > 0 for w in res["widths"]) and all(s.startswith("data:image/png") for s in res["srcs"]), res

def test_check_catches_a_broken_image(report, tmp_path):
    broken = tmp_path/"copy"; shutil.copytree(report, broken)
    page = (broken/"report.html").read_text(encoding="utf-8")
    i = page.index("alt='grouped bars'"); j = page.rindex("data:image/png;base64,", 0, i)
    (broken/"report.html").write_text(page[:j] + "data:image/png;base64," + base64.b64encode(b"not a png").decode() + page[page.index("'", j):], encoding="utf-8")
    res = image_check(broken/"report.html", tmp_path/"profile")
    assert res["bad"] == ["grouped bars"], res

def test_reads_verdict_first(report):
    page = (report/"report.html").read_text(encoding="utf-8")
    heads = re.findall(r"<th>(.*?)</th>", page)
    assert "attack success before" in heads and "method" in heads, heads
    raw = [h for h in heads if re.fullmatch(r"[a-z_0-9]+", h) and "_" in h]
    assert not raw, f"raw keys as headers: {raw}"
    assert page.index("class='verdict'") < page.index("<h2>The methods") < page.index("<table>")
    assert "UCE" in page and "prompt perturbation" in page and ">uce<" not in page  # methods named in words

def test_screenshot(report, tmp_path):
    from PIL import Image
    import numpy as np
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    r = chromium("--hide-scrollbars", "--window-size=1400,2400", f"--screenshot={SCREENSHOT}", (report/"report.html").as_uri(), profile=tmp_path)
    assert SCREENSHOT.is_file(), r.stderr[-2000:]
    im = np.asarray(Image.open(SCREENSHOT).convert("RGB"))
    assert im.shape[:2] == (2400, 1400) and im.std() > 10, (im.shape, im.std())  # a rendered page, not a blank one
    print(f"screenshot of the report: {SCREENSHOT}", file=sys.stderr)
