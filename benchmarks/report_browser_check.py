"""Open a harbench HTML report in headless Chromium: screenshot it and check every image loaded.

    python benchmarks/report_browser_check.py results/report.html --screenshot docs/report.png
    python benchmarks/report_browser_check.py --db results/harbench.duckdb --suite quick \
        --screenshot docs/report.png

A copy of the report gets a small script that, once the page has loaded, writes a marker with the
number of <img> elements and how many have naturalWidth > 0; Chromium's --dump-dom prints the
page after scripts ran, and the check reads the marker. Exit 0 when every image loaded, 1 when
one did not, 2 when Chromium is absent (nothing checked).
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
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var ok = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var marker = document.createElement('div');
  marker.id = 'harbench-image-check';
  marker.textContent = 'images=' + images.length + ' loaded=' + ok;
  document.body.appendChild(marker);
});
</script>"""
MARKER = re.compile(r"images=(\d+) loaded=(\d+)")


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
    """{"images", "loaded", "screenshot"} for ``report`` opened in headless Chromium."""
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
        result: dict[str, int | str] = {"images": int(found[1]), "loaded": int(found[2])}
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
    print(f"{report}: {result['loaded']} of {result['images']} images loaded"
          + (f"; screenshot {result['screenshot']}" if "screenshot" in result else ""))
    return 0 if result["images"] and result["loaded"] == result["images"] else 1


if __name__ == "__main__":
    sys.exit(main())
