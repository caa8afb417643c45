"""Windows of a subject subset, read through ``DatasetPlugin.load(root, subjects)``."""

from __future__ import annotations

from harbench import plugins
from harbench.data.load import window_samples
from harbench.data.windows import Windows, make_windows
from harbench.testing import check_dataset


def subset_windows(data_root, name: str, subjects) -> Windows:
    """The dataset's default windows over only ``subjects`` (loaded from ``data_root/name``),
    after the plugin author's checks of harbench.testing passed on the same files."""
    plugin = plugins.get("datasets", name)
    check_dataset(plugin, data_root / name, subjects=list(subjects))
    recordings = plugin.load(data_root / name, subjects=subjects)
    window, step = window_samples(plugin, None, None)
    return make_windows(
        recordings,
        window=window,
        step=step,
        classes=tuple(plugin.classes),
        channels=tuple(c.name for c in plugin.channels),
        rate_hz=plugin.rate_hz,
        dataset=name,
    )
