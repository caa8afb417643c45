"""The HTML report opened in headless Chromium: every inlined image loads; a screenshot is taken.

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


def test_report_images_load_in_headless_chromium(tmp_path_factory, tmp_path):
    db = demo_store(tmp_path_factory)
    report = tmp_path / "report.html"
    with Store(db, read_only=True) as store:
        html.write(store, report, "demo")
    shot = tmp_path / "report.png"
    result = check.check(report, shot)
    assert result["images"] >= 5 and result["loaded"] == result["images"]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_a_broken_image_is_caught(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA'>"
                    "<img src='nothing-here.png'></body></html>")
    result = check.check(page)
    assert result == {"images": 2, "loaded": 0}
