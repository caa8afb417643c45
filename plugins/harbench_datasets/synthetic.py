"""A small deterministic synthetic dataset for fast tests and smoke runs.

Each class is a sinusoid of its own frequency and axis mix plus noise; every subject has its own
gain and phase, so that leave-subject-out is a (mild) domain shift.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harbench import lazy
from harbench.contracts import Channel, DatasetPlugin, Recording
from harbench_datasets.readers import chosen_subjects, keep_subjects

np = lazy.module("numpy")  # imported on first use: registering stays light

N_SUBJECTS = 6
CLASS_FREQS_HZ = (0.5, 1.5, 3.0, 5.0)
RATE_HZ = 25.0
SEGMENT_S = 12
RECORDINGS_PER_SUBJECT = 2


def synthesize(seed: int = 0) -> list[Recording]:
    """The synthetic recordings; the same every call for the same seed."""
    rng = np.random.default_rng(seed)
    seg = int(SEGMENT_S * RATE_HZ)
    t = np.arange(seg) / RATE_HZ
    recordings = []
    for subject in range(1, N_SUBJECTS + 1):
        gain = 1.0 + 0.2 * rng.standard_normal(3)
        for r in range(RECORDINGS_PER_SUBJECT):
            order = rng.permutation(len(CLASS_FREQS_HZ))
            parts, labels = [], []
            for c in order:
                phase = rng.uniform(0, 2 * np.pi)
                base = np.sin(2 * np.pi * CLASS_FREQS_HZ[c] * t + phase)
                mix = np.array([1.0, 0.5 * (c % 2), 0.3 * (c // 2)])
                signal = base[:, None] * mix[None, :] * gain[None, :]
                signal += 0.3 * rng.standard_normal(signal.shape)
                parts.append(signal)
                labels.append(np.full(seg, c, dtype=np.int64))
            lab = np.concatenate(labels)
            lab[:5] = -1  # a few unlabelled samples at the start, as real recordings have
            recordings.append(
                Recording(subject, np.concatenate(parts).astype(np.float32), lab, f"s{subject}r{r}")
            )
    return recordings


class Synthetic(DatasetPlugin):
    name = "synthetic"
    title = "Synthetic sinusoids (deterministic, for tests)"
    channels = tuple(Channel(f"acc_{a}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = RATE_HZ
    subjects = tuple(range(1, N_SUBJECTS + 1))
    classes = tuple(f"class{f}hz".replace(".", "_") for f in CLASS_FREQS_HZ)
    label_codes = tuple(range(len(CLASS_FREQS_HZ)))
    window_s = 2.0
    step_s = 1.0
    protocol = {"name": "subject_groups", "groups": 3}
    licence = "public domain"
    embedded = True

    def is_present(self, root: Path) -> bool:
        return True

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        return []

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        return keep_subjects(synthesize(), chosen_subjects(self, subjects))

    def fetch_instructions(self, root: Path) -> str:
        return "Nothing to fetch: the synthetic dataset is generated."


PLUGINS = (Synthetic,)
