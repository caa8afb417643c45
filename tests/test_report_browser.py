"""The HTML report opened in headless Chromium: every inlined figure loads, the leaderboard sorts
by a click on its header, the protocol and source F1 columns are there; a screenshot is taken.

Skipped when Chromium is not installed (apt-get install chromium).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harbench.report import html
from harbench.store import Store
from tests.report_store import demo_store

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "report_browser_check.py"


def _check_module():
    spec = importlib.util.spec_from_file_location("report_browser_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _check_module()
pytestmark = pytest.mark.skipif(
    check.chromium_path() is None,
    reason=f"Chromium is not installed at {check.CHROMIUM} (apt-get install chromium)",
)


def test_report_figures_load_tables_sort_and_columns_show_in_headless_chromium(
        tmp_path_factory, tmp_path):
    db = demo_store(tmp_path_factory)
    report = tmp_path / "report.html"
    with Store(db, read_only=True) as store:
        html.write(store, report, "demo")
    text = report.read_text()
    assert text.count("data:image/svg+xml;base64,") >= 5 and "data:image/png" not in text
    shot = tmp_path / "report.png"
    result = check.check(report, shot)
    assert result["images"] >= 5 and result["loaded"] == result["images"]
    assert result["tables"] >= 3 and result["sorts"] == 1
    assert result["protocol"] == 1 and result["source"] == 1
    assert result["csv"] == result["images"]  # every figure links the numbers it draws
    assert check.passed(result)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_a_table_that_does_not_sort_is_caught(tmp_path):
    page = tmp_path / "still.html"
    page.write_text("<!DOCTYPE html><html><body><table class='sortable'><thead><tr>"
                    "<th>protocol</th><th>source_macro_f1</th></tr></thead><tbody>"
                    "<tr><td>loso</td><td data-v='0.9'>0.9</td></tr>"
                    "<tr><td>loso</td><td data-v='0.1'>0.1</td></tr></tbody></table>"
                    "</body></html>")
    result = check.check(page)
    assert (result["protocol"], result["source"], result["sorts"]) == (1, 1, 0)
    assert not check.passed(result)


def test_a_broken_image_is_caught(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA'>"
                    "<img src='nothing-here.png'></body></html>")
    result = check.check(page)
    assert (result["images"], result["loaded"]) == (2, 0)
