"""Getting a dataset's raw files onto disk: download, then extraction, then (on demand) verify.

Archives are downloaded into ``<data root>/.downloads/<dataset>/`` (outside the dataset's own
folder, so a half-finished download never looks like a present dataset) and extracted into the
dataset's folder. Each step is a module of its own: ``download`` (resumable, checksummed, only
``urllib``), ``extract`` (zip and tar, nothing written outside the target), ``verify`` (what is
on disk and whether it loads); this module strings them together and re-exports their names.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from harbench.contracts import DatasetPlugin, HarbenchError
from harbench.data.download import (  # noqa: F401 (re-exported: the fetch API in one place)
    CHUNK,
    SCHEMES,
    USER_AGENT,
    Progress,
    archive_name,
    download,
    downloads_dir,
    file_sha256,
    partial_path,
)
from harbench.data.extract import TAR_SUFFIXES, ZIP_SUFFIXES, extract, is_archive  # noqa: F401
from harbench.data.verify import _recording_stats, present, verify  # noqa: F401


def fetch(
    dataset_plugin: DatasetPlugin,
    root: str | Path,
    *,
    urls: Sequence[str] | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Path:
    """Download and extract a dataset's archives into ``root`` (its own folder); returns ``root``.

    Archives nested one level inside an archive (as UCI's wrappers are) are extracted where they
    lie. A dataset without download URLs (login, licence form, manual step) raises a HarbenchError
    holding the plugin's ``fetch_instructions``. An already present dataset is left alone unless
    ``force``.
    """
    plugin, root = dataset_plugin, Path(root)
    if not force and present(plugin, root):
        return root
    sources = tuple(urls) if urls else tuple(plugin.archive_urls)
    if not sources:
        raise HarbenchError(
            f"dataset {plugin.name!r} cannot be downloaded automatically. "
            f"{plugin.fetch_instructions(root)}"
        )
    folder = downloads_dir(root)
    for url in sources:
        filename = archive_name(url)
        archive = download(
            url, folder / filename, sha256=plugin.sha256.get(filename), progress=progress
        )
        if not is_archive(archive):
            root.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive, root / filename)
            continue
        for path in extract(archive, root, progress=progress):
            if is_archive(path):
                extract(path, path.parent, progress=progress)
    return root
