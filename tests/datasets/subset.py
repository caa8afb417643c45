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


def check_written(data_root, name: str) -> dict:
    """harbench.testing.check_dataset over the subjects whose raw files a test wrote."""
    plugin = plugins.get("datasets", name)
    root = data_root / name
    present = [s for s in plugin.subjects
               if all(f.is_file() for f in plugin.files(root, [s]))]
    return check_dataset(plugin, root, subjects=present)
