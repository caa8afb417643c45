"""Sliding windows inside each recording, labelled by majority."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harbench.contracts import Recording


@dataclass
class Windows:
    """Windowed data: X float32 [N, T, C], y int64 [N], subject int64 [N]."""

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    rate_hz: float
    recording: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dataset: str = ""
    # first sample of each window inside its recording (at ``rate_hz``): two windows of one
    # recording share samples when their starts are less than a window length apart
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: np.ndarray) -> Windows:
        """The windows at ``index`` (same metadata)."""
        return Windows(
            X=self.X[index],
            y=self.y[index],
            subject=self.subject[index],
            classes=self.classes,
            channels=self.channels,
            rate_hz=self.rate_hz,
            recording=self.recording[index] if len(self.recording) else self.recording,
            dataset=self.dataset,
            start=self.start[index] if len(self.start) else self.start,
        )


def window_starts(length: int, window: int, step: int) -> np.ndarray:
    """Start indices of every full window of ``window`` samples, ``step`` apart."""
    if length < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, length - window + 1, step, dtype=np.int64)


def majority_labels(
    labels: np.ndarray, starts: np.ndarray, window: int, n_classes: int
) -> np.ndarray:
    """Majority label of each window; -1 where unlabelled samples are the majority.

    Ties go to the lowest class index (unlabelled counts as its own, lowest, label).
    """
    shifted = labels.astype(np.int64) + 1  # -1 -> 0
    onehot = np.zeros((len(labels) + 1, n_classes + 1), dtype=np.int32)
    onehot[np.arange(1, len(labels) + 1), shifted] = 1
    counts_cum = np.cumsum(onehot, axis=0)
    counts = counts_cum[starts + window] - counts_cum[starts]
    return counts.argmax(axis=1).astype(np.int64) - 1


def make_windows(
    recordings: list[Recording],
    *,
    window: int,
    step: int,
    classes: tuple[str, ...],
    channels: tuple[str, ...],
    rate_hz: float,
    dataset: str = "",
) -> Windows:
    """Cut every recording into windows; drop windows whose majority label is unlabelled."""
    if window <= 0 or step <= 0:
        raise ValueError(f"window and step must be positive samples, got {window} and {step}")
    xs, ys, subj, recs, first = [], [], [], [], []
    for r_index, rec in enumerate(recordings):
        starts = window_starts(len(rec.labels), window, step)
        if len(starts) == 0:
            continue
        labels = majority_labels(rec.labels, starts, window, len(classes))
        keep = labels >= 0
        starts, labels = starts[keep], labels[keep]
        if len(starts) == 0:
            continue
        signals = np.ascontiguousarray(rec.signals, dtype=np.float32)
        view = np.lib.stride_tricks.sliding_window_view(signals, window, axis=0)  # [T-w+1, C, w]
        xs.append(np.ascontiguousarray(view[starts].transpose(0, 2, 1)))
        ys.append(labels)
        subj.append(np.full(len(starts), rec.subject, dtype=np.int64))
        recs.append(np.full(len(starts), r_index, dtype=np.int64))
        first.append(starts)
    n_ch = len(channels)
    if not xs:
        empty = np.zeros((0, window, n_ch), dtype=np.float32)
        zeros = np.zeros(0, dtype=np.int64)
        return Windows(empty, zeros, zeros, classes, channels, rate_hz, zeros, dataset, zeros)
    return Windows(
        X=np.concatenate(xs),
        y=np.concatenate(ys),
        subject=np.concatenate(subj),
        classes=classes,
        channels=channels,
        rate_hz=rate_hz,
        recording=np.concatenate(recs),
        dataset=dataset,
        start=np.concatenate(first),
    )
