"""`harbench site -o DIR` on the demo store: every page loads in headless Chromium with its
images, every local link resolves, tables sort, and nothing reaches the network."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harbench import cli

REPO = Path(__file__).resolve().parents[2]


def _browser_check():
    spec = importlib.util.spec_from_file_location(
        "report_browser_check", REPO / "benchmarks" / "report_browser_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


@pytest.fixture(scope="module")
def site(demo_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    assert cli.main(["site", "-o", str(out), "--db", str(demo_store)]) == 0
    return out


def test_every_link_and_image_resolves_to_a_local_file(site):
    pages = sorted(site.rglob("*.html"))
    names = {p.relative_to(site).as_posix() for p in pages}
    assert {"index.html", "datasets.html", "methods.html", "suites/demo.html",
            "datasets/synthetic.html", "methods/lora.html", "methods/lora_edge.html"} <= names
    assert len([n for n in names if n.startswith("runs/")]) == 2
    for page in pages:
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for target in parser.targets:
            assert not urlparse(target).scheme, f"{page}: {target} leaves the site"
            assert (page.parent / target).resolve().is_file(), f"{page}: broken link {target}"
    run_page = next(p for p in pages if p.parent.name == "runs").read_text()
    assert "<h2>Config</h2>" in run_page and "curves.svg" in run_page
    assert (site / "data" / "demo-runs.csv").read_text().startswith("run_id,dataset")


PROBE = """<!DOCTYPE html><html><body><pre id='result'></pre><script>
var pages = PAGES, results = [], i = 0;
function next() {
  if (i >= pages.length) { document.getElementById('result').textContent =
                           'RESULT' + JSON.stringify(results) + 'END'; return; }
  var frame = document.createElement('iframe');
  frame.onload = function () {
    var doc = frame.contentDocument, images = Array.from(doc.images);
    var entry = {page: pages[i], title: doc.title, images: images.length,
                 loaded: images.filter(function (m) { return m.complete && m.naturalWidth > 0;
                 }).length, sorted: null};
    var table = doc.querySelector('table.sortable');
    if (table && table.tBodies[0].rows.length > 1) {
      table.querySelectorAll('th')[0].click();
      var first = Array.from(table.tBodies[0].rows).map(function (r) {
        return r.cells[0].textContent; });
      entry.sorted = first.every(function (v, k) { return k === 0 || first[k - 1] <= v; });
    }
    results.push(entry); frame.remove(); i += 1; next();
  };
  frame.src = pages[i]; document.body.appendChild(frame);
}
next();
</script></body></html>"""


def test_every_page_loads_with_its_images_in_headless_chromium(site, tmp_path):
    checker = _browser_check()
    binary = checker.chromium_path()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    probe = site / "_probe.html"
    probe.write_text(PROBE.replace("PAGES", json.dumps(pages)), encoding="utf-8")
    try:
        done = subprocess.run(
            [binary, *checker.FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
             "--allow-file-access-from-files", "--virtual-time-budget=30000", "--dump-dom",
             probe.as_uri()], capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink()
    found = re.search(r"RESULT(\[.*?\])END", done.stdout, re.S)
    assert found, f"no result from Chromium (exit {done.returncode}): {done.stderr[-500:]}"
    results = json.loads(found[1].replace("&quot;", '"'))
    assert [r["page"] for r in results] == pages
    for entry in results:
        assert entry["title"], entry  # the page loaded and has its title
        assert entry["loaded"] == entry["images"], entry
        assert entry["sorted"] in (None, True), entry
    assert sum(r["images"] for r in results) >= 2 + 2  # run curves and suite figures
    assert any(r["sorted"] for r in results)  # a header click sorted a table
