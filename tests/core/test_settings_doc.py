"""docs/settings.md is rendered from the same declarations the suite parser checks against."""

from __future__ import annotations

from pathlib import Path

from harbench.settings import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_doc_matches_the_declarations():
    text = DOC.read_text()
    body = text.split("\n\n", 2)[2]
    assert body == reference(), (
        "docs/settings.md is out of date: regenerate it with the command in its header"
    )
    assert "| `lr` | `0.001` | float > 0 | AdamW learning rate |" in text
