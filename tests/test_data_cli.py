"""``harbench data list | info | fetch | verify | prepare`` through the real CLI entry point."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harbench import cli, plugins
from harbench.contracts import Channel, DatasetPlugin, Recording
from harbench.data.parsing import read_numeric_table


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Rich wraps at COLUMNS; wide enough that names are never folded."""
    monkeypatch.setenv("COLUMNS", "200")
    # `data` is registered by the lead in harbench.cli.COMMAND_MODULES; until then add it here.
    if "data" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "data"))


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class Walks(DatasetPlugin):
    """Two subjects, one CSV each (x,y,z,label with label 1 = walking, 2 = standing)."""

    name = "cli_walks"
    title = "CLI test walks"
    channels = tuple(Channel(f"acc_{a}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = 10.0
    subjects = (1, 2)
    classes = ("walking", "standing")
    label_codes = (1, 2)
    window_s = 2.0
    step_s = 1.0
    citation = "Nobody. Walks for tests. 2024."
    licence = "CC0"
    source_url = "https://example.org/walks"

    def is_present(self, root: Path) -> bool:
        return (root / "walks" / "s1.csv").is_file()

    def load(self, root: Path) -> list[Recording]:
        recordings = []
        for subject in self.subjects:
            table = read_numeric_table(root / "walks" / f"s{subject}.csv", delimiter=",")
            labels = table[:, 3].astype(np.int64) - 1
            recordings.append(Recording(subject, table[:, :3].astype(np.float32), labels))
        return recordings


def walks_zip(path: Path) -> str:
    rng = np.random.default_rng(3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for subject in (1, 2):
            rows = [
                ",".join(f"{v:.3f}" for v in rng.standard_normal(3)) + f",{1 + (t >= 50)}"
                for t in range(100)
            ]
            zf.writestr(f"walks/s{subject}.csv", "\n".join(rows) + "\n")
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


@pytest.fixture
def walks(tmp_path, monkeypatch):
    """A registered dataset whose archive is served from a file:// URL."""
    archive = tmp_path / "mirror" / "walks.zip"
    archive.parent.mkdir()
    plugin = Walks()
    plugin.sha256 = {"walks.zip": walks_zip(archive)}
    plugin.archive_urls = (archive.as_uri(),)
    monkeypatch.setitem(plugins.registry().items["datasets"], plugin.name, plugin)
    return plugin


def test_list_shows_every_registered_dataset(capsys, tmp_path):
    code, out, _ = run(["data", "list", "--data-root", str(tmp_path)], capsys)
    assert code == 0
    names = plugins.registry().names("datasets")
    assert "synthetic" in names and "hapt_embedded" in names
    for name in names:
        assert name in out
    synthetic = next(line for line in out.splitlines() if " synthetic " in line)
    assert "3 (acc)" in synthetic and "25" in synthetic and "embedded" in synthetic
    assert str(tmp_path) in out


def test_info_shows_declared_facts(capsys, tmp_path, walks):
    code, out, _ = run(["data", "info", "cli_walks", "--data-root", str(tmp_path)], capsys)
    assert code == 0
    for text in (
        "CLI test walks",
        "10 Hz",
        "1-2",
        "0: walking (code 1)",
        "1: standing (code 2)",
        "Nobody. Walks for tests. 2024.",
        "CC0",
        "https://example.org/walks",
        "walks.zip",
        walks.sha256["walks.zip"],
        str(tmp_path / "cli_walks"),
        "acc_z",
    ):
        assert text in out, text
    assert "│ present        │ no" in out


def test_unknown_dataset_exits_2_with_suggestion(capsys):
    code, _, err = run(["data", "info", "synthetc"], capsys)
    assert code == 2
    assert "unknown dataset 'synthetc'" in err and "Did you mean 'synthetic'" in err


def test_fetch_verify_prepare(capsys, tmp_path, walks):
    root = tmp_path / "data"
    code, out, _ = run(["data", "verify", "cli_walks", "--data-root", str(root)], capsys)
    assert code == 1 and "present" in out and "no" in out

    code, out, err = run(["data", "fetch", "cli_walks", "--data-root", str(root)], capsys)
    assert code == 0, err
    assert "fetched into" in out
    assert (root / "cli_walks" / "walks" / "s2.csv").is_file()

    code, out, _ = run(["data", "fetch", "cli_walks", "--data-root", str(root)], capsys)
    assert code == 0 and "already present" in out

    code, out, _ = run(["data", "verify", "cli_walks", "--data-root", str(root)], capsys)
    assert code == 0
    assert "(ok)" in out and walks.sha256["walks.zip"] in out
    assert "200 (200 labelled)" in out

    cache = tmp_path / "cache"
    args = ["data", "prepare", "cli_walks", "--data-root", str(root), "--cache-dir", str(cache)]
    code, out, _ = run(args, capsys)
    assert code == 0
    # 100 samples at 10 Hz, 2 s windows every 1 s: 9 per subject
    assert "18 windows (18x20x3)" in out and "2 subjects" in out
    assert list((cache / "windows").glob("cli_walks-*/X.npy"))


def test_fetch_of_a_manual_dataset_prints_instructions(capsys, tmp_path, monkeypatch):
    plugin = Walks()
    plugin.archive_urls = ()
    monkeypatch.setitem(plugins.registry().items["datasets"], plugin.name, plugin)
    code, _, err = run(["data", "fetch", "cli_walks", "--data-root", str(tmp_path)], capsys)
    assert code == 2
    assert "cannot be downloaded automatically" in err
    assert "https://example.org/walks" in err and str(tmp_path / "cli_walks") in err


def test_checksum_failure_exits_2(capsys, tmp_path, walks):
    walks.sha256 = {"walks.zip": "f" * 64}
    code, _, err = run(["data", "fetch", "cli_walks", "--data-root", str(tmp_path)], capsys)
    assert code == 2 and "checksum mismatch" in err and "f" * 64 in err


def test_data_without_a_verb_prints_usage(capsys):
    code, out, _ = run(["data"], capsys)
    assert code == 2
    assert "list" in out and "prepare" in out


class PerSubjectWalks(Walks):
    """Walks whose loader reads only the asked subjects' files and lists them in ``files``."""

    def files(self, root: Path, subjects=None) -> list[Path]:
        chosen = self.subjects if subjects is None else subjects
        return [root / "walks" / f"s{s}.csv" for s in chosen]

    def load(self, root: Path, subjects=None) -> list[Recording]:
        recordings = []
        for subject, path in zip(subjects or self.subjects, self.files(root, subjects)):
            table = read_numeric_table(path, delimiter=",")
            labels = table[:, 3].astype(np.int64) - 1
            recordings.append(Recording(subject, table[:, :3].astype(np.float32), labels))
        return recordings


def write_walks(root: Path, subjects, labels=(1, 2)) -> None:
    folder = root / "cli_walks" / "walks"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for subject in subjects:
        codes = [labels[t * len(labels) // 60] for t in range(60)]
        rows = [",".join(f"{v:.3f}" for v in rng.standard_normal(3)) + f",{c}" for c in codes]
        (folder / f"s{subject}.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def per_subject(monkeypatch):
    plugin = PerSubjectWalks()
    monkeypatch.setitem(plugins.registry().items["datasets"], plugin.name, plugin)
    return plugin


def test_verify_names_a_missing_subject_file_and_a_subset_needs_only_its_files(
    capsys, tmp_path, per_subject
):
    write_walks(tmp_path, [1])  # subject 2's file never arrived
    base = ["data", "verify", "cli_walks", "--data-root", str(tmp_path)]
    code, out, _ = run(base, capsys)
    assert code == 1
    assert "walks/s2.csv" in out and "missing" in out

    code, out, _ = run([*base, "--subjects", "1"], capsys)
    assert code == 0, out
    code, out, _ = run([*base, "--subjects", "2"], capsys)
    assert code == 1 and "walks/s2.csv" in out

    code, _, err = run([*base, "--subjects", "9"], capsys)
    assert code == 2 and "no subjects [9]" in err


def test_verify_is_strict_about_classes_unless_partial_is_allowed(capsys, tmp_path, per_subject):
    write_walks(tmp_path, [1, 2], labels=(1,))  # nobody stands: class 'standing' is absent
    base = ["data", "verify", "cli_walks", "--data-root", str(tmp_path)]
    code, out, _ = run(base, capsys)
    assert code == 1
    assert "1 of 2 declared classes have no labelled sample: standing" in out
    code, out, _ = run([*base, "--allow-partial"], capsys)
    assert code == 0 and "partial (accepted)" in out and "standing" in out


def test_verify_of_a_truncated_wisdm_download_names_the_missing_users(capsys, tmp_path):
    from tests.test_identity import wisdm_text

    folder = tmp_path / "wisdm" / "WISDM_ar_v1.1"
    folder.mkdir(parents=True)
    (folder / "WISDM_ar_v1.1_raw.txt").write_text(wisdm_text(range(1, 23)))  # 22 of 36 users
    base = ["data", "verify", "wisdm", "--data-root", str(tmp_path)]
    code, out, _ = run(base, capsys)
    assert code == 1
    assert "14 of 36 declared subjects have no recording: 23, 24, 25" in out
    assert "declared classes have no labelled sample" in out  # walking/sitting only
    code, out, _ = run([*base, "--allow-partial"], capsys)
    assert code == 0
    code, out, _ = run([*base, "--subjects", "1-22"], capsys)
    assert code == 0, out


def test_allow_partial_checks_a_strict_loader_on_the_subjects_with_every_file(
    capsys, tmp_path, per_subject
):
    write_walks(tmp_path, [1])  # the loader reads every subject's file when asked for all
    base = ["data", "verify", "cli_walks", "--data-root", str(tmp_path), "--allow-partial"]
    code, out, _ = run(base, capsys)
    assert code == 0, out
    assert "subjects with every file" in out and "walks/s2.csv" in out
    assert "60 (60 labelled)" in out  # subject 1's samples were loaded and checked


REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


@pytest.mark.skipif(not (REAL / "motionsense").is_dir(), reason="no real MotionSense copy")
def test_verify_on_the_real_partial_motionsense_copy(capsys):
    base = ["data", "verify", "motionsense", "--data-root", str(REAL.resolve())]
    code, out, _ = run(base, capsys)
    assert code == 1 and "sub_4.csv" in out
    code, out, _ = run([*base, "--subjects", "1-3"], capsys)
    assert code == 0 and "3 (declared 24)" in out
    code, out, _ = run([*base, "--allow-partial"], capsys)
    assert code == 0 and "partial (accepted)" in out
