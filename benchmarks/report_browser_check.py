"""Open a harbench HTML report in headless Chromium: check every figure loads, tables sort, the
protocol and source F1 columns are there; screenshot it.

    python benchmarks/report_browser_check.py results/report.html --screenshot docs/report.png
    python benchmarks/report_browser_check.py --db results/harbench.duckdb --suite quick \
        --screenshot docs/report.png

A copy of the report gets a small script that, once the page has loaded, writes a marker with the
number of <img> elements and how many have naturalWidth > 0 (SVG figures included), how many
tables are sortable, whether clicking a numeric header of the first leaderboard sorts its rows up
and a second click down (by the cells' values), and whether the leaderboard has the protocol and
source_macro_f1 columns; Chromium's --dump-dom prints the page after scripts ran, and the check
reads the marker. Exit 0 when every image loaded, the tables sort and both columns are present, 1
when not, 2 when Chromium is absent (nothing checked).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync")
PROBE = """<script>
function harbenchSorts(table) {
  var heads = Array.from(table.querySelectorAll('th'));
  var rows = table.tBodies[0].rows;
  for (var c = 0; c < heads.length; c++) {
    var numeric = rows.length > 1 && Array.from(rows).every(function (r) {
      return r.cells[c].getAttribute('data-v'); });
    if (!numeric) { continue; }
    var values = function () { return Array.from(table.tBodies[0].rows).map(function (r) {
      return parseFloat(r.cells[c].getAttribute('data-v')); }); };
    heads[c].click();
    var up = values();
    heads[c].click();
    var down = values();
    var ascending = up.every(function (v, i) { return i === 0 || up[i - 1] <= v; });
    var descending = down.every(function (v, i) { return i === 0 || down[i - 1] >= v; });
    return ascending && descending && up[0] !== up[up.length - 1] ? 1 : 0;
  }
  return 0;
}
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var tables = Array.from(document.querySelectorAll('table.sortable'));
  var heads = tables.length ? Array.from(tables[0].querySelectorAll('th')).map(function (h) {
    return h.textContent.trim(); }) : [];
  var marker = document.createElement('div');
  marker.id = 'harbench-image-check';
  marker.textContent = 'images=' + images.length + ' loaded=' + ok + ' tables=' + tables.length
    + ' sorts=' + (tables.length ? harbenchSorts(tables[0]) : 0)
    + ' protocol=' + (heads.indexOf('protocol') >= 0 ? 1 : 0)
    + ' source=' + (heads.indexOf('source_macro_f1') >= 0 ? 1 : 0)
    + ' csv=' + document.querySelectorAll('a[download][href^="data:text/csv"]').length;
  document.body.appendChild(marker);
});
</script>"""
MARKER = re.compile(r"images=(\d+) loaded=(\d+) tables=(\d+) sorts=(\d) protocol=(\d) "
                    r"source=(\d) csv=(\d+)")
FIELDS = ("images", "loaded", "tables", "sorts", "protocol", "source", "csv")


def chromium_path() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(binary: str, profile: Path, *args: str, timeout: int = 120
              ) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)


def check(report: Path, screenshot: Path | None = None, binary: str | None = None
          ) -> dict[str, int | str]:
    """{"images", "loaded", "tables", "sorts", "protocol", "source", "csv", "screenshot"} for
    ``report`` opened in headless Chromium (sorts, protocol, source: 1 when so, else 0)."""
    binary = binary or chromium_path()
    if binary is None:
        raise FileNotFoundError(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="harbench-chromium-") as tmp:
        tmp_path = Path(tmp)
        probe = tmp_path / "probe.html"
        probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                         encoding="utf-8")
        dumped = _chromium(binary, tmp_path / "profile", "--virtual-time-budget=10000",
                           "--dump-dom", probe.resolve().as_uri())
        found = MARKER.search(dumped.stdout)
        if not found:
            raise RuntimeError(f"no image marker in Chromium's DOM (exit {dumped.returncode}): "
                               f"{dumped.stderr[-500:]}")
        result: dict[str, int | str] = {k: int(v) for k, v in zip(FIELDS, found.groups())}
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            shot = tmp_path / "shot.png"
            _chromium(binary, tmp_path / "profile2", "--hide-scrollbars",
                      "--window-size=1280,1800", f"--screenshot={shot}",
                      report.resolve().as_uri())
            if not shot.exists() or shot.stat().st_size == 0:
                raise RuntimeError("Chromium wrote no screenshot")
            shutil.copyfile(shot, screenshot)
            result["screenshot"] = str(screenshot)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", help="an existing report.html")
    parser.add_argument("--db", help="make the report from this store first")
    parser.add_argument("--suite")
    parser.add_argument("--screenshot", help="write a PNG screenshot here")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print(f"skipped: Chromium is not installed ({CHROMIUM}); apt-get install chromium")
        return 2
    if args.report:
        report = Path(args.report)
    else:
        from harbench.report import html
        from harbench.store import Store

        report = Path(tempfile.mkdtemp(prefix="harbench-report-")) / "report.html"
        with Store(args.db, read_only=True) as store:
            html.write(store, report, args.suite)
    result = check(report, Path(args.screenshot) if args.screenshot else None)
    print(f"{report}: {result['loaded']} of {result['images']} images loaded; "
          f"{result['tables']} sortable tables, sorting {'works' if result['sorts'] else 'FAILS'};"
          f" protocol column {'present' if result['protocol'] else 'MISSING'}; source_macro_f1 "
          f"column {'present' if result['source'] else 'MISSING'}; {result['csv']} figure CSVs"
          + (f"; screenshot {result['screenshot']}" if "screenshot" in result else ""))
    return 0 if passed(result) else 1


def passed(result: dict[str, int | str]) -> bool:
    """Every image loaded, the first table sorts both ways, both columns present."""
    return bool(result["images"] and result["loaded"] == result["images"] and result["sorts"]
                and result["protocol"] and result["source"])


if __name__ == "__main__":
    sys.exit(main())
