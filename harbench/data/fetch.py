"""Getting a dataset's raw files onto disk: resumable download, checksum, safe extraction, verify.

Archives are downloaded into ``<data root>/.downloads/<dataset>/`` (outside the dataset's own
folder, so a half-finished download never looks like a present dataset) and extracted into the
dataset's folder. Only ``urllib`` is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from harbench.contracts import DatasetPlugin, HarbenchError
from harbench.data.completeness import missing_parts

Progress = Callable[[str, int, "int | None"], None]
"""``progress(label, done, total)``: bytes (or members) done so far and the total where known."""

CHUNK = 1 << 16
SCHEMES = ("http", "https", "file")
USER_AGENT = "harbench (+https://pypi.org/project/harbench)"
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class _Interrupted(Exception):
    """A transfer that stopped before its end; the partial file is kept for resuming."""


# ---- download ---------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_name(url: str) -> str:
    """The file name an archive URL is saved under: its last path segment, percent-decoded."""
    segment = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    segment = segment.replace("\\", "_").replace("\x00", "")
    return segment if segment not in ("", ".", "..") else "archive"


def partial_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept."""
    return dest.with_name(dest.name + ".part")


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    progress: Progress | None = None,
    retries: int = 2,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming an earlier partial download.

    A partial file is continued with a ``Range`` request when the server answers 206, and restarted
    when it answers 200. A connection that drops mid-way is resumed up to ``retries`` times; after
    that the partial file stays for the next call. With ``sha256``, a mismatch deletes the file and
    raises a HarbenchError naming the URL and both digests. Returns ``dest``.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise HarbenchError(f"cannot download {url!r}: expected an http(s) or file URL")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = sha256.lower() if sha256 else None
    if dest.is_file():
        if expected is None or file_sha256(dest) == expected:
            return dest
        dest.unlink()  # a stale or corrupt earlier download
    part = partial_path(dest)
    failures = 0
    while True:
        try:
            _transfer(url, part, dest.name, progress, timeout)
            break
        except _Interrupted as exc:
            failures += 1
            if failures > retries:
                kept = part.stat().st_size if part.is_file() else 0
                resume = (
                    f"; {kept} bytes are kept in {part} and the next fetch resumes from there"
                    if kept
                    else ""
                )
                raise HarbenchError(f"download of {url} failed: {exc}{resume}") from None
    if expected is not None:
        actual = file_sha256(part)
        if actual != expected:
            part.unlink()
            raise HarbenchError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}. "
                "The file was deleted; the source may have changed or the transfer was corrupted."
            )
    os.replace(part, dest)
    return dest


def _transfer(url: str, part: Path, label: str, progress: Progress | None, timeout: float) -> None:
    """One request: continue ``part`` from its current size, or start it over."""
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is not shorter than the resource
            part.unlink()
            return _transfer(url, part, label, progress, timeout)
        raise HarbenchError(
            f"cannot download {url}: the server answered HTTP {exc.code} {exc.reason}"
        ) from None
    except urllib.error.URLError as exc:
        raise _Interrupted(f"cannot connect ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(f"cannot connect ({exc})") from None
    with response:
        status = getattr(response, "status", None) or 200
        length = response.headers.get("Content-Length")
        total: int | None
        if offset and status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != offset:
                response.close()
                part.unlink()
                return _transfer(url, part, label, progress, timeout)
            if total is None and length is not None:
                total = offset + int(length)
            mode, done = "ab", offset
        else:
            mode, done = "wb", 0
            total = int(length) if length is not None and length.isdigit() else None
        if progress:
            progress(label, done, total)
        with open(part, mode) as fh:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Interrupted(f"connection lost after {done} bytes ({exc})") from None
                if not chunk:
                    break
                fh.write(chunk)
                done += len(chunk)
                if progress:
                    progress(label, done, total)
    if total is not None and done < total:
        raise _Interrupted(f"connection closed after {done} of {total} bytes")
    return None


def _content_range(header: str) -> tuple[int, int | None]:
    """(first byte, total size or None) of a ``Content-Range: bytes a-b/total`` header."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", header)
    if not match:
        return -1, None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


# ---- extraction -------------------------------------------------------------------------------


def is_archive(path: str | Path) -> bool:
    """Whether ``path`` has a suffix ``extract`` understands."""
    name = Path(path).name.lower()
    return name.endswith(ZIP_SUFFIXES + TAR_SUFFIXES)


def _member_path(archive: Path, name: str) -> PurePosixPath:
    """The member's path relative to the target, resolved lexically; refuses escapes."""
    clean = name.replace("\\", "/")
    if "\x00" in clean:
        raise HarbenchError(f"{archive}: refusing member {name!r}: its name holds a NUL byte")
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise HarbenchError(
            f"{archive}: refusing member {name!r}: an absolute path would be written outside "
            "the target folder"
        )
    return _resolve_inside(archive, name, PurePosixPath(), clean)


def _resolve_inside(archive: Path, name: str, base: PurePosixPath, relative: str) -> PurePosixPath:
    parts: list[str] = list(base.parts)
    for piece in relative.split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if not parts:
                raise HarbenchError(
                    f"{archive}: refusing member {name!r}: it resolves outside the target folder"
                )
            parts.pop()
        else:
            parts.append(piece)
    return PurePosixPath(*parts)


def _link_target(archive: Path, name: str, member: PurePosixPath, link: str) -> PurePosixPath:
    """Where a symlink member points, relative to the target; refuses links that leave it."""
    clean = link.replace("\\", "/")
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        raise HarbenchError(
            f"{archive}: refusing member {name!r}: a symlink to the absolute path {link!r}, "
            "outside the target folder"
        )
    try:
        return _resolve_inside(archive, name, member.parent, clean)
    except HarbenchError:
        raise HarbenchError(
            f"{archive}: refusing member {name!r}: a symlink to {link!r}, outside the target folder"
        ) from None


def _checked_destination(archive: Path, name: str, target: Path, rel: PurePosixPath) -> Path:
    """``target / rel`` after following links already on disk; refused if that leaves target."""
    path = target.joinpath(*rel.parts)
    if not _inside(target, path):
        raise HarbenchError(
            f"{archive}: refusing member {name!r}: through a link it resolves outside the target "
            "folder"
        )
    return path


def extract(
    archive: str | Path, target: str | Path, *, progress: Progress | None = None
) -> list[Path]:
    """Extract a .zip or .tar(.gz/.bz2/.xz) into ``target``; returns the files written.

    Every member is checked before anything is written: an absolute path, a ``..`` that climbs out,
    a symlink pointing outside ``target`` or a device/FIFO member raises a HarbenchError naming the
    member. Links already extracted are followed when checking later members.
    """
    archive, target = Path(archive), Path(target)
    name = archive.name.lower()
    target.mkdir(parents=True, exist_ok=True)
    try:
        if name.endswith(ZIP_SUFFIXES):
            return _extract_zip(archive, target, progress)
        if name.endswith(TAR_SUFFIXES):
            return _extract_tar(archive, target, progress)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise HarbenchError(f"{archive} is not a readable archive: {exc}") from None
    except OSError as exc:
        raise HarbenchError(f"extracting {archive} into {target} failed: {exc}") from None
    raise HarbenchError(
        f"{archive}: unknown archive type; expected one of {', '.join(ZIP_SUFFIXES + TAR_SUFFIXES)}"
    )


def _zip_is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _extract_zip(archive: Path, target: Path, progress: Progress | None) -> list[Path]:
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not i.filename.startswith("__MACOSX/")]
        plan = []
        for info in infos:
            rel = _member_path(archive, info.filename)
            link = None
            if _zip_is_symlink(info):
                link = zf.read(info).decode("utf-8", errors="replace")
                _link_target(archive, info.filename, rel, link)
            plan.append((info, rel, link))
        for count, (info, rel, link) in enumerate(plan, start=1):
            if rel.parts:
                path = _checked_destination(archive, info.filename, target, rel)
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                elif link is not None:
                    _make_symlink(archive, info.filename, target, path, link)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(path, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
                    written.append(path)
            if progress:
                progress(archive.name, count, len(plan))
    return written


def _extract_tar(archive: Path, target: Path, progress: Progress | None) -> list[Path]:
    written: list[Path] = []
    with tarfile.open(archive, mode="r:*") as tf:
        members = tf.getmembers()
        plan = []
        for member in members:
            rel = _member_path(archive, member.name)
            if member.issym():
                _link_target(archive, member.name, rel, member.linkname)
            elif member.islnk():
                _member_path(archive, member.linkname)
            elif not (member.isreg() or member.isdir()):
                raise HarbenchError(
                    f"{archive}: refusing member {member.name!r}: not a regular file, folder or "
                    "link (a device or FIFO)"
                )
            plan.append((member, rel))
        for count, (member, rel) in enumerate(plan, start=1):
            if rel.parts:
                path = _checked_destination(archive, member.name, target, rel)
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    _make_symlink(archive, member.name, target, path, member.linkname)
                elif member.islnk():
                    source = target.joinpath(*_member_path(archive, member.linkname).parts)
                    if not source.is_file():
                        raise HarbenchError(
                            f"{archive}: member {member.name!r} is a hard link to "
                            f"{member.linkname!r}, which the archive did not provide before it"
                        )
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, path)
                    written.append(path)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(member)
                    if src is None:
                        raise HarbenchError(f"{archive}: member {member.name!r} has no data")
                    with src, open(path, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
                    written.append(path)
            if progress:
                progress(archive.name, count, len(plan))
    return written


def _inside(target: Path, path: Path) -> bool:
    """Whether ``path``, following every link on disk, lies inside ``target``."""
    real_target = os.path.realpath(target)
    return os.path.commonpath([real_target, os.path.realpath(path)]) == real_target


def _make_symlink(archive: Path, name: str, target: Path, path: Path, link: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    os.symlink(link.replace("\\", "/"), path)
    if not _inside(target, path):  # a chain of links that leaves target on disk
        path.unlink()
        raise HarbenchError(
            f"{archive}: refusing member {name!r}: through other links it points outside the "
            "target folder"
        )


# ---- fetch and verify -------------------------------------------------------------------------


def downloads_dir(root: Path) -> Path:
    """Where the archives of the dataset whose folder is ``root`` are kept."""
    root = Path(root)
    return root.parent / ".downloads" / root.name


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


def present(plugin: DatasetPlugin, root: Path) -> bool:
    """``plugin.is_present(root)``, False where it cannot tell."""
    try:
        return bool(plugin.is_present(root))
    except HarbenchError:
        return False


def verify(
    dataset_plugin: DatasetPlugin, root: str | Path, subjects: Sequence[int] | None = None
) -> dict[str, Any]:
    """What is on disk for a dataset (only ``subjects``' files when given) and whether it loads.

    Keys: dataset, root, embedded, present, files, bytes, archives (file, sha256, expected, ok),
    loadable, error, recordings, samples, labelled, subjects, nan (NaNs left in the signals),
    nan_filled (NaNs the loader reports having filled, where it sets ``nan_count``), problems.
    """
    plugin, root = dataset_plugin, Path(root)
    report: dict[str, Any] = {
        "dataset": plugin.name,
        "root": str(root),
        "embedded": bool(plugin.embedded),
        "present": present(plugin, root),
        "files": 0,
        "bytes": 0,
        "archives": [],
        "loadable": False,
        "error": None,
        "recordings": None,
        "samples": None,
        "labelled": None,
        "subjects": None,
        "nan": None,
        "nan_filled": None,
        "not_finite_float32": None,
        "problems": [],
        "missing": [],  # what is missing against the declaration (harbench.data.completeness)
    }
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file():
                report["files"] += 1
                report["bytes"] += path.stat().st_size
    for url in plugin.archive_urls:
        path = downloads_dir(root) / archive_name(url)
        if path.is_file():
            expected = plugin.sha256.get(path.name)
            actual = file_sha256(path)
            ok = None if expected is None else actual == expected.lower()
            report["archives"].append(
                {"file": str(path), "sha256": actual, "expected": expected, "ok": ok}
            )
            if ok is False:
                report["problems"].append(f"{path.name}: sha256 {actual}, expected {expected}")
    if not report["present"]:
        report["error"] = f"not present in {root}. {plugin.fetch_instructions(root)}"
        return report
    try:
        from harbench.data.load import load_recordings

        recordings = load_recordings(plugin, root, subjects, check_values=False)
    except HarbenchError as exc:
        report["error"] = str(exc)
        report["missing"] = missing_parts(plugin, root, None, subjects)
        return report
    except Exception as exc:  # a broken third-party loader is reported, not raised
        report["error"] = f"{type(exc).__name__}: {exc}"
        return report
    report["loadable"] = True
    report["missing"] = missing_parts(plugin, root, recordings, subjects)
    stats = _recording_stats(plugin, recordings)
    report["problems"] += stats.pop("problems")
    report.update(stats)
    filled = getattr(plugin, "nan_count", None)
    report["nan_filled"] = int(filled) if isinstance(filled, (int, np.integer)) else None
    return report


def _recording_stats(plugin: DatasetPlugin, recordings: list) -> dict[str, Any]:
    problems: list[str] = []
    from harbench.data.parsing import check_recordings, overflowing

    samples = labelled = nan = overflow = 0
    width = len(plugin.channels)
    classes = len(plugin.classes)
    declared = set(plugin.subjects)
    for i, rec in enumerate(recordings):
        where = rec.name or f"recording {i}"
        signals, labels = np.asarray(rec.signals), np.asarray(rec.labels)
        samples += int(labels.shape[0])
        labelled += int((labels >= 0).sum())
        nan += int(np.isnan(signals).sum()) if signals.dtype.kind == "f" else 0
        overflow += int(overflowing(signals).sum())
        if signals.ndim != 2 or signals.shape[0] != labels.shape[0]:
            problems.append(f"{where}: signals {signals.shape} do not match labels {labels.shape}")
        elif width and signals.shape[1] != width:
            problems.append(f"{where}: {signals.shape[1]} channels, {width} declared")
        if labels.size and (labels.min() < -1 or labels.max() >= classes):
            problems.append(f"{where}: labels outside -1..{classes - 1}")
        if declared and rec.subject not in declared:
            problems.append(f"{where}: subject {rec.subject} is not among the declared subjects")
    if overflow:
        try:
            check_recordings(recordings)
        except HarbenchError as exc:  # names the first one
            problems.insert(0, str(exc))
    return {
        "recordings": len(recordings),
        "not_finite_float32": overflow,
        "samples": samples,
        "labelled": labelled,
        "subjects": len({rec.subject for rec in recordings}),
        "nan": nan,
        "problems": problems[:20],
    }
