"""The HTML report without a browser: protocol and source F1 columns, table of contents, sortable
tables, SVG figures with their CSVs, one self-contained file (issue 21)."""

from __future__ import annotations

import base64
import random
import re

import pytest

from harbench.report import html
from harbench.report.leaderboard import build
from harbench.store import Store
from tests.report_store import label, result_for, spec_for


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    """Two methods on one dataset, each run storing the source model's F1 before adaptation."""
    db, rng, ids = tmp_path_factory.mktemp("html") / "a.duckdb", random.Random(2), []
    with Store(db) as store:
        for method, params, level, before in (("full", {}, 0.8, 0.40), ("lora", {"r": 4}, 0.7,
                                                                         0.44)):
            for fold in (0, 1):
                spec = spec_for("pamap2", method, params, fold, 0)
                result = result_for(spec, level, 1000, 1.0, True, rng)
                result.metrics["source_macro_f1"] = before + 0.01 * fold
                store.write(result, labels={"method": label(method, params)})
                ids.append(spec.run_id)
        store.link_suite("a", ids)
    return db


def test_the_board_puts_the_source_f1_beside_macro_f1(adapted):
    with Store(adapted, read_only=True) as store:
        board = build(store, suite="a")
    block = ["macro_f1", "std", "n", "seeds"]  # the metric, its spread, units, seeds per unit
    start = board.columns.index("macro_f1")
    assert board.columns[start:start + 5] == [*block, "source_macro_f1"]
    before = {row["method"]: row["source_macro_f1"] for row in board.rows}
    assert before == {"full": pytest.approx(0.405), "lora(r=4)": pytest.approx(0.445)}


def test_the_report_has_contents_protocol_source_f1_sortable_tables_and_figure_data(adapted):
    with Store(adapted, read_only=True) as store:
        page = html.render(store, "a")
    assert "<nav class='toc'>" in page and "href='#s1'" in page and "<h2 id='s1'>" in page
    head = re.search(r"<h3 id='s\d+'>pamap2</h3><table class='sortable'><thead>(.*?)</thead>",
                     page)[1]
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", head)
    assert headers[:4] == ["protocol", "model", "method", "macro_f1"]
    assert headers[headers.index("macro_f1") + 3] == "source_macro_f1"  # after n and seeds
    assert "<td>subject_groups</td>" in page and "0.405" in page
    assert "table.sortable" in page and "<script>" in page  # the inline sorter, no network
    assert "data:image/png" not in page and page.count("data:image/svg+xml;base64,") >= 3
    links = re.findall(r"<a download='([^']+)' href='data:text/csv;charset=utf-8;base64,([^']+)'",
                       page)
    assert len(links) == page.count("<img ")
    name, data = next(link for link in links if link[0].startswith("pareto_params"))
    rows = base64.b64decode(data).decode().splitlines()
    assert rows[0].startswith("figure,dataset,protocol,backbone,method") and len(rows) == 3
    assert not re.search(r"(src|href)=['\"]https?://", page)


def test_a_store_with_two_protocols_gets_one_cd_diagram_per_protocol(tmp_path):
    import dataclasses

    db, rng, ids = tmp_path / "p.duckdb", random.Random(4), []
    with Store(db) as store:
        for dataset in ("pamap2", "mhealth"):
            for protocol in ({"name": "subject_groups", "groups": 4}, {"name": "loso"}):
                for method, params, level in (("full", {}, 0.8), ("bitfit", {}, 0.7),
                                              ("lora", {"r": 2}, 0.75)):
                    spec = dataclasses.replace(spec_for(dataset, method, params, 0, 0),
                                               protocol=protocol)
                    store.write(result_for(spec, level, 100, 1.0, True, rng),
                                labels={"method": label(method, params)})
                    ids.append(spec.run_id)
        store.link_suite("p", ids)
    with Store(db, read_only=True) as store:
        facets = html._figure_facets(store, "p", "cd", "cd")
        assert facets == [({"protocol": "loso"}, "cd: loso"),
                          ({"protocol": "subject_groups"}, "cd: subject_groups")]
        for options, caption in facets:
            drawn = html._figure_html(store, "p", "cd", options, caption)
            assert "<figure>" in drawn and "WARNING: only 2 datasets" in drawn
        board = html.leaderboard_html(store, "p")
    assert board.count("<td>loso</td>") == 6 and board.count("<td>subject_groups</td>") == 6
