"""One atomic folder writer: fill a temporary sibling folder, then rename it into place."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

_TAKEN = {errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR}


def write_folder(dest: Path, fill: Callable[[Path], None]) -> bool:
    """Create folder ``dest`` whole or not at all.

    ``fill(tmp)`` writes the folder's files into ``tmp``, a fresh folder next to ``dest`` on the
    same file system; the folder is then renamed to ``dest`` in one step, so a reader never sees
    a half-written ``dest``. Returns True when this call created ``dest`` and False when another
    process got there first (its folder is kept, ours discarded). If ``fill`` raises, nothing is
    left behind and the exception propagates.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        fill(tmp)
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            if exc.errno not in _TAKEN and not dest.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        return True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
