"""Issue 19 item 3: the subject_adaptation split keeps min_per_class adaptation windows of every
class a target performs (or names the class), and the seen-class / balanced metrics."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from sklearn.metrics import balanced_accuracy_score, f1_score

from harbench import metrics, plugins, suite
from harbench.data import protocols
from harbench.data.load import load_windows

TWIN = "suites/repro/lora_edge-hapt.yaml"


def _shares_a_sample(windows, a: np.ndarray, b: np.ndarray) -> bool:
    length = windows.X.shape[1]
    for rec in np.intersect1d(windows.recording[a], windows.recording[b]):
        sa = windows.start[a[windows.recording[a] == rec]]
        sb = windows.start[b[windows.recording[b] == rec]]
        if (np.abs(sa[:, None] - sb[None, :]) < length).any():
            return True
    return False


@pytest.fixture(scope="module")
def every_target(tmp_path_factory):
    """The LoRA-Edge twin's settings (its protocol, training block, window) over HAPT targets
    1-30: one RunSpec per target, as a suite expands it."""
    twin = yaml.safe_load(open(TWIN).read())
    twin["defaults"]["protocol"]["targets"] = list(range(1, 31))
    twin.pop("tuning", None)  # its development targets would be reported targets here
    twin["matrix"]["seeds"] = [0]
    path = tmp_path_factory.mktemp("split") / "all_targets.yaml"
    path.write_text(yaml.safe_dump(twin, sort_keys=False))
    specs = [s for s in suite.load(path).expand() if s.method == "full"]
    assert len(specs) == 30 and len({s.protocol["targets"] == specs[0].protocol["targets"]
                                     for s in specs}) == 1
    return specs


def test_the_twin_binds_the_documented_default():
    specs = suite.load(TWIN).expand()
    assert {s.protocol["min_per_class"] for s in specs} == {2}


def test_every_hapt_target_adapts_on_min_per_class_windows_of_each_class_or_names_it(every_target):
    windows = load_windows("hapt_embedded", **every_target[0].window)
    folds = protocols.make_folds(windows, every_target[0].protocol)
    unsplit_total = 0
    for spec in every_target:
        w, fold = windows, folds[spec.fold]
        # the run's own parts (what rundata.prepare uses): validation carve, then any budget
        train, val, labelled = protocols.training_parts(w, fold, spec.training, spec.seed)
        data = SimpleNamespace(labelled=labelled, val=val, test=fold.test)
        need = spec.protocol["min_per_class"]
        target = spec.protocol["targets"][spec.fold]
        performed = np.unique(w.y[w.subject == target])
        unsplit = fold.notes["unsplit_classes"]
        counts = np.bincount(w.y[data.labelled], minlength=len(w.classes))
        for c in performed:
            if w.classes[c] in unsplit:
                assert counts[c] == 0 and np.sum(w.y[data.val] == c) == 0
            else:
                assert counts[c] >= need, (target, w.classes[c], counts[c])
                assert np.sum(w.y[data.test] == c) >= 1, (target, w.classes[c])
        # the six basic activities are long: always split
        assert not set(unsplit) & set(w.classes[:6]), (target, unsplit)
        # nothing shared between adaptation, validation and test
        assert not _shares_a_sample(w, data.labelled, data.test)
        assert not _shares_a_sample(w, data.val, data.test)
        assert not _shares_a_sample(w, data.labelled, data.val)
        assert set(w.subject[np.concatenate([data.labelled, data.val, data.test])]) == {target}
        unsplit_total += len(unsplit)
    # most transition classes are split too (30 targets x 6 transitions = 180)
    assert unsplit_total < 90


def test_balanced_accuracy_and_seen_macro_f1_match_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(60):
        k = int(rng.integers(2, 8))
        n = int(rng.integers(1, 40))
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        if rng.random() < 0.5:  # a class predicted but never true
            y_pred[rng.integers(0, n)] = k - 1
            y_true[y_true == k - 1] = 0
        got = metrics.scores(y_true, y_pred, k)
        assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
        seen = sorted(set(rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)))
        labels = [c for c in seen if c in set(y_true) | set(y_pred)]
        expected = f1_score(y_true, y_pred, labels=labels, average="macro",
                            zero_division=0) if labels else 0.0
        assert metrics.macro_f1_seen(got["confusion"], seen) == pytest.approx(expected)
    everything = list(range(5))
    y = rng.integers(0, 5, 50)
    p = rng.integers(0, 5, 50)
    assert metrics.macro_f1_seen(metrics.scores(y, p, 5)["confusion"], everything) == \
        pytest.approx(metrics.scores(y, p, 5)["macro_f1"])


def test_a_min_per_class_no_class_can_meet_is_a_clear_error(every_target):
    from harbench.contracts import HarbenchError
    from harbench.settings import ParamError

    windows = load_windows("hapt_embedded", **every_target[0].window)
    with pytest.raises(HarbenchError, match="no class of subject 1 has min_per_class=500"):
        protocols.make_folds(windows, {"name": "subject_adaptation", "targets": [1],
                                       "min_per_class": 500})
    dataset = plugins.get("datasets", "hapt_embedded")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ParamError, match="min_per_class"):
            protocols.bind(dataset, {"name": "subject_adaptation", "min_per_class": bad})
