"""Self-supervised pretraining: it learns, it is deterministic, it is cached, and the encoder it
produces is better than a random one for a linear probe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harbench import HarbenchError, build_model, load_windows
from harbench import pretrain as pt
from harbench.data.normalise import ZScore
from harbench.data.windows import Windows
from harbench.metrics import scores
from tests.helpers import capture_supervised_subjects

SMALL = {"dim": 32, "depth": 2, "heads": 2, "patch": 10}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared machine: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def synthetic():
    w = load_windows("synthetic")
    X = ZScore.fit(np.asarray(w.X)).apply(np.asarray(w.X))
    return X, np.asarray(w.y), np.asarray(w.subject)


def small_mae(seed: int, classes: int = 4):
    torch.manual_seed(seed)
    return build_model("mae", channels=3, window=50, classes=classes, **SMALL)


@pytest.fixture(scope="module")
def pretrained(synthetic):
    X, _, _ = synthetic
    model = small_mae(0)
    before = pt.reconstruction_loss(model, X)
    state, curves = pt.pretrain(model, X, epochs=10, batch_size=64, lr=5e-3, seed=0, device="cpu")
    after = pt.reconstruction_loss(model, X)
    return model, state, curves, before, after


def test_pretraining_lowers_the_masked_reconstruction_loss(pretrained):
    _, _, curves, before, after = pretrained
    assert after < 0.6 * before
    assert [row["epoch"] for row in curves] == list(range(1, 11))
    assert curves[-1]["loss"] < curves[0]["loss"]


def linear_probe_f1(model, X, y, train, test) -> float:
    model.eval()
    with torch.no_grad():
        feats = model.features(torch.from_numpy(X))
    feats = (feats - feats[train].mean(0)) / (feats[train].std(0) + 1e-6)
    torch.manual_seed(0)
    probe = torch.nn.Linear(feats.shape[1], int(y.max()) + 1)
    optimiser = torch.optim.Adam(probe.parameters(), lr=0.05)
    target = torch.from_numpy(y.copy())
    for _ in range(200):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(probe(feats[train]), target[train]).backward()
        optimiser.step()
    pred = probe(feats[test]).argmax(1).numpy()
    return scores(y[test], pred, int(y.max()) + 1)["macro_f1"]


def test_linear_probe_on_the_pretrained_encoder_beats_a_random_one(synthetic, pretrained):
    X, y, subject = synthetic
    model = pretrained[0]
    random_encoder = small_mae(0)  # the same initialisation, never trained
    train, test = np.flatnonzero(subject <= 4), np.flatnonzero(subject > 4)
    assert linear_probe_f1(model, X, y, train, test) > linear_probe_f1(
        random_encoder, X, y, train, test) + 0.05


def test_encoder_state_leaves_out_head_and_decoder(pretrained):
    model, state, _, _, _ = pretrained
    assert state and not any(k.startswith(("head.", "decoder.")) for k in state)
    assert set(state) == {k for k in model.state_dict() if not k.startswith(("head.", "decoder."))}
    fresh = small_mae(1, classes=7)  # another dataset: another number of classes
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    assert not unexpected
    assert {k.split(".")[0] for k in missing} == {"head", "decoder"}
    assert torch.equal(fresh.blocks[0].attn.q.weight, model.blocks[0].attn.q.weight)


def test_strip_pretraining_removes_the_decoder():
    model = small_mae(0)
    full = sum(p.numel() for p in model.parameters())
    decoder = sum(p.numel() for p in model.decoder.parameters())
    pt.strip_pretraining(model)
    assert model.decoder is None
    assert sum(p.numel() for p in model.parameters()) == full - decoder
    assert model(torch.randn(2, 50, 3)).shape == (2, 4)
    with pytest.raises(HarbenchError, match="decoder"):
        model.pretrain_loss(torch.randn(2, 50, 3), 0.75)
    tinier = build_model("tinierhar", channels=3, window=50, classes=4)
    assert pt.strip_pretraining(tinier) is tinier


def test_pretraining_is_deterministic_and_leaves_the_callers_rng_alone(synthetic):
    X = synthetic[0][:128]
    runs = [pt.pretrain(small_mae(0), X, epochs=2, batch_size=32, seed=s, device="cpu")
            for s in (5, 5, 6)]
    (a, curves_a), (b, curves_b), (c, _) = runs
    assert [r["loss"] for r in curves_a] == [r["loss"] for r in curves_b]  # seconds differ
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)

    model = small_mae(0)
    torch.manual_seed(77)
    expected = torch.rand(3)
    torch.manual_seed(77)
    pt.pretrain(model, X[:32], epochs=1, batch_size=32, seed=9, device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_models_without_a_pretraining_objective_are_refused(synthetic):
    X = synthetic[0][:8]
    tinier = build_model("tinierhar", channels=3, window=50, classes=4)
    with pytest.raises(HarbenchError, match="tinierhar"):
        pt.pretrain(tinier, X, epochs=1)
    with pytest.raises(HarbenchError, match="objective"):
        pt.pretrain(small_mae(0), X, objective="simclr", epochs=1)
    with pytest.raises(HarbenchError, match=r"\[N, T, C\]"):
        pt.pretrain(small_mae(0), X[0], epochs=1)


def test_checkpoint_key_is_canonical():
    stage = {"model": "mae", "model_params": {"dim": 32, "depth": 2}, "seed": 0,
             "subjects": [1, 2, 3], "mask_ratio": 0.75}
    reordered = {"mask_ratio": 0.75, "subjects": (np.int64(1), 2, 3), "seed": np.int64(0),
                 "model_params": {"depth": 2, "dim": 32}, "model": "mae"}
    assert pt.checkpoint_key(stage) == pt.checkpoint_key(reordered)
    for change in ({"seed": 1}, {"subjects": [1, 2]}, {"mask_ratio": 0.5},
                   {"model_params": {"dim": 64, "depth": 2}}):
        assert pt.checkpoint_key({**stage, **change}) != pt.checkpoint_key(stage)


def test_cached_pretrain_trains_once_and_reuses_the_checkpoint(synthetic, tmp_path):
    X = synthetic[0][:96]
    stage = {"model": "mae", "model_params": SMALL, "dataset": "synthetic", "objective": "mae",
             "mask_ratio": 0.75, "epochs": 1, "batch_size": 32, "lr": 1e-3, "seed": 3}
    calls = {"build": 0, "data": 0}

    def build():
        calls["build"] += 1
        return build_model("mae", channels=3, window=50, classes=4, **SMALL)

    def data():
        calls["data"] += 1
        return X

    first = pt.cached_pretrain(stage, build, data, cache_dir=tmp_path)
    assert not first.cached and calls == {"build": 1, "data": 1}
    assert first.folder == tmp_path / "pretrain" / pt.checkpoint_key(stage)
    stored = torch.load(first.folder / "weights.pt", weights_only=True)
    assert set(stored) == set(first.state)
    assert json.loads((first.folder / "curves.json").read_text()) == first.curves
    assert json.loads((first.folder / "stage.json").read_text())["seed"] == 3

    second = pt.cached_pretrain(stage, build, data, cache_dir=tmp_path)
    assert second.cached and calls == {"build": 1, "data": 1}  # no training, no data loading
    assert second.curves == first.curves
    assert all(torch.equal(second.state[k], first.state[k]) for k in first.state)

    third = pt.cached_pretrain({**stage, "seed": 4}, build, data, cache_dir=tmp_path)
    assert not third.cached and third.key != first.key


MAE_SUITE = """
name: unit-pretrain
defaults:
  protocol: {{name: subject_groups, groups: 3}}
  training: {{epochs: 1, batch_size: 32, patience: 1}}
  pretrain: {pretrain}
matrix:
  datasets: [synthetic]
  models: [{model}]
  methods: [full]
  seeds: [{seeds}]
  folds: [{folds}]
"""
MAE_MODEL = "{mae: {dim: 32, depth: 2, heads: 2, patch: 10}}"
TINY = "{tinierhar: {filters: 4, hidden: 8}}"
SUPERVISED = "{objective: supervised, epochs: 2, batch_size: 32, lr: 0.005}"


def specs(pretrain: str, model: str = MAE_MODEL, seeds: str = "0", folds: str = "0") -> list:
    from harbench import suite

    loaded = suite.loads(MAE_SUITE.format(pretrain=pretrain, model=model, seeds=seeds,
                                          folds=folds))
    plan = loaded.expand() if hasattr(loaded, "expand") else loaded.specs
    return list(getattr(plan, "specs", plan))


def test_for_run_caches_per_training_data_and_loads_into_the_run_model(monkeypatch):
    from harbench.runner import prepare

    first, other_fold = specs("{objective: mae, epochs: 1, batch_size: 32}", folds="0, 1")
    data = prepare(first)
    model = build_model("mae", channels=3, window=50, classes=4, **SMALL)
    loaded = pt.for_run(first, model, data)
    assert len(loaded.curves) == 1 and not loaded.cached and not loaded.head_kept
    state = torch.load(pt.default_dir() / loaded.key / "weights.pt", weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert not any(k.startswith(("head.", "decoder.")) for k in state)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached stage must not train again")

    monkeypatch.setattr(pt.objectives, "pretrain", no_training)
    again = pt.for_run(first, build_model("mae", channels=3, window=50, classes=4, **SMALL), data)
    assert again.cached and again.key == loaded.key == pt.stage_key(first)
    with pytest.raises(AssertionError, match="train again"):  # other training windows
        pt.for_run(other_fold, model, prepare(other_fold))


def test_for_run_refuses_mismatched_datasets_and_models(monkeypatch):
    from harbench.runner import prepare

    spec, = specs("{objective: mae, epochs: 1, datasets: [synthetic, wisdm]}")
    data = prepare(spec)
    other = Windows(np.zeros((4, 60, 3), np.float32), np.zeros(4, np.int64),
                    np.ones(4, np.int64), ("a",), ("x", "y", "z"), 30.0)
    monkeypatch.setattr("harbench.data.load.load_windows", lambda name, **kw: other)
    model = build_model("mae", channels=3, window=50, classes=4, **SMALL)
    with pytest.raises(HarbenchError, match="'wisdm'.*window length and channels"):
        pt.for_run(spec, model, data)
    tiny, = specs("{objective: mae, epochs: 1}", model=TINY)
    tinier = build_model("tinierhar", channels=3, window=50, classes=4, filters=4, hidden=8)
    with pytest.raises(HarbenchError, match="tinierhar"):
        pt.for_run(tiny, tinier, prepare(tiny))




def test_supervised_pretraining_never_sees_a_test_subject(monkeypatch):
    from harbench.runner import run_one

    seen = capture_supervised_subjects(monkeypatch)
    spec, = specs(SUPERVISED, model=TINY, seeds="11")
    result = run_one(spec)
    assert result.status == "ok", result.error
    assert len(seen) == 1
    pretrained_on = set(seen[0].tolist())
    assert pretrained_on and not pretrained_on & set(result.details["test_subjects"])
    assert not pretrained_on & set(result.details["val_subjects"])
    assert sorted(pretrained_on) == result.details["pretrain_subjects"]
    assert 0 <= result.metrics["source_macro_f1"] <= 1  # same dataset: the head is kept
    rows = [r for r in result.curves if r["stage"] == "pretrain"]
    assert rows and all("val_f1" in r for r in rows)


def test_supervised_pretraining_under_subject_adaptation_never_sees_the_target(monkeypatch):
    from harbench import plugins
    from harbench.runner import run_one

    plugins.get("protocols", "subject_adaptation")  # a built-in protocol plugin
    seen = capture_supervised_subjects(monkeypatch)
    text = MAE_SUITE.replace("{{name: subject_groups, groups: 3}}",
                             "{{name: subject_adaptation, targets: [2]}}")
    from harbench import suite

    loaded = suite.loads(text.format(pretrain=SUPERVISED, model=TINY, seeds="0", folds="0"))
    plan = loaded.expand() if hasattr(loaded, "expand") else loaded.specs
    spec = list(getattr(plan, "specs", plan))[0]
    result = run_one(spec)
    assert result.status == "ok", result.error
    assert 2 not in set(seen[0].tolist()) and result.details["test_subjects"] == [2]
    assert {"source_macro_f1", "macro_f1"} <= set(result.metrics)


def test_stage_key_and_ensure_stage_train_once(monkeypatch):
    from harbench.runner import run_one

    spec, = specs(SUPERVISED, model=TINY, seeds="5")
    key = pt.stage_key(spec)
    assert key == pt.stage_key(spec) and len(key) == 20
    assert not (pt.default_dir() / key).exists()
    seen = capture_supervised_subjects(monkeypatch)
    pt.ensure_stage(spec)
    assert (pt.default_dir() / key / "weights.pt").is_file() and len(seen) == 1
    pt.ensure_stage(spec)  # cached: a no-op
    result = run_one(spec)
    assert len(seen) == 1 and result.details["pretrain_key"] == key
    assert "pretrain_seconds" not in result.metrics and result.metrics["setup_seconds"] > 0
    no_stage, = specs("null", model=TINY)
    assert pt.stage_key(no_stage) is None and pt.ensure_stage(no_stage) is None


def test_pretraining_seed_follows_the_run_unless_the_stage_sets_one():
    from dataclasses import replace

    a, b = specs(SUPERVISED, model=TINY, seeds="0, 1")
    follow = [replace(s, pretrain={**s.pretrain, "seed": None}) for s in (a, b)]
    fixed = [replace(s, pretrain={**s.pretrain, "seed": 7}) for s in (a, b)]
    ids = [pt.identity(s) for s in follow + fixed]
    assert [i["seed"] for i in ids] == [0, 1, 7, 7]
    assert pt.stage_key(follow[0]) != pt.stage_key(follow[1])


def adaptation_specs(pretrain: str, seeds: str) -> list:
    """Specs of MAE_SUITE under subject_adaptation (target subject 2: one fold)."""
    from harbench import suite

    text = MAE_SUITE.replace("{{name: subject_groups, groups: 3}}",
                             "{{name: subject_adaptation, targets: [2]}}")
    loaded = suite.loads(text.format(pretrain=pretrain, model=TINY, seeds=seeds, folds="0"))
    plan = loaded.expand() if hasattr(loaded, "expand") else loaded.specs
    return list(getattr(plan, "specs", plan))


def test_a_stage_with_its_own_seed_is_shared_by_the_run_seeds(monkeypatch):
    """subject_adaptation's stage trains on the source subjects, which no run seed shapes: with
    ``pretrain.seed`` both run seeds load one checkpoint; without it each has its own."""
    from harbench import coordinator
    from harbench.runner import run_one

    seen = capture_supervised_subjects(monkeypatch)
    stage = "{{objective: supervised, epochs: 1, batch_size: 32, lr: 0.005, seed: {}}}"
    def checkpoints() -> set:
        folder = pt.default_dir()
        return {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()

    for stage_seed, stages in (("7", 1), ("null", 2)):
        a, b = adaptation_specs(stage.format(stage_seed), seeds="0, 1")
        assert (a.seed, b.seed) == (0, 1)
        assert len(coordinator.plan([a, b]).stages) == stages
        trained, stored = len(seen), checkpoints()
        results = [run_one(spec) for spec in (a, b)]
        assert all(r.status == "ok" for r in results), [r.error for r in results]
        assert len(seen) - trained == stages  # stage trainings
        keys = {r.details["pretrain_key"] for r in results}
        assert len(keys) == stages and checkpoints() - stored == keys
    # without a stage seed the key's data still name the run's validation split, as before
    assert pt.identity(b)["data"]["validation"] == {"val_fraction": b.training.get("val_fraction"),
                                                    "seed": 1}
    # where the stage trains on the run's training part (no source part), the validation carve
    # follows the run seed, so even a stage with its own seed is one per run seed
    a, b = specs(stage.format(7), model=TINY, seeds="0, 1")
    assert pt.stage_key(a) != pt.stage_key(b)

    # a protocol that claims a source part but cuts a fold without one is refused, not shared
    from harbench import plugins

    monkeypatch.setattr(type(plugins.get("protocols", "subject_groups")), "source_part", True)
    assert pt.stage_key(a) == pt.stage_key(b)
    with pytest.raises(HarbenchError, match="declares source_part = True but its fold"):
        pt.ensure_stage(a)


def test_supervised_on_other_datasets_pools_class_names_and_recreates_the_head(monkeypatch):
    from harbench.runner import prepare

    spec, = specs("{objective: supervised, epochs: 1, batch_size: 16, datasets: [wisdm]}",
                  model=TINY)
    data = prepare(spec)
    rng = np.random.default_rng(0)
    other = Windows(rng.standard_normal((40, 50, 3)).astype(np.float32),
                    np.tile(np.arange(2), 20), np.repeat(np.arange(1, 5), 10),
                    ("class0_5hz", "zeta"), ("x", "y", "z"), 25.0)
    monkeypatch.setattr("harbench.data.load.load_windows", lambda name, **kw: other)
    gathered = pt.stage._gather(dict(spec.pretrain), spec, data)
    assert gathered.classes == ("class0_5hz", "zeta")
    assert set(gathered.subjects.tolist()) == {1_000_001, 1_000_002, 1_000_003, 1_000_004}
    model = build_model("tinierhar", channels=3, window=50, classes=4, filters=4, hidden=8)
    head_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("head.")}
    loaded = pt.for_run(spec, model, data)
    assert not loaded.head_kept and loaded.subjects == []  # none of the run's own subjects
    stored = torch.load(pt.default_dir() / loaded.key / "weights.pt", weights_only=True)
    assert stored["head.weight"].shape[0] == 2  # the source classes
    assert all(torch.equal(model.state_dict()[k], v) for k, v in head_before.items())
    body = [k for k in stored if not k.startswith("head.")]
    assert body and all(torch.equal(model.state_dict()[k], stored[k]) for k in body)


def test_the_coordinator_names_a_stage_without_loading_a_window(monkeypatch):
    from dataclasses import replace

    from harbench import coordinator

    spec, = specs(SUPERVISED, model=TINY)

    def no_windows(*args, **kwargs):
        raise AssertionError("naming a stage must not load windows")

    monkeypatch.setattr("harbench.data.load.load_windows", no_windows)
    monkeypatch.setattr("harbench.rundata.load_windows", no_windows)
    key = pt.stage_key(spec)
    other_method = replace(spec, method="linear_probe", training={**spec.training, "lr": 0.1})
    work = coordinator.plan([spec, other_method])
    assert [s.key for s in work.stages] == [key]  # one stage, shared by both methods
    assert len(work.after) == 2
    # what shapes the stage's data makes another stage: the fold, the validation split, the data
    assert pt.stage_key(replace(spec, fold=1)) != key
    assert pt.stage_key(replace(spec, training={**spec.training, "val_fraction": 0.3})) != key
    assert pt.stage_key(replace(spec, data_fingerprint="other files")) != key
