"""Safe extraction of zip and tar archives: every member must land inside the target folder
(no absolute path, no ``..``, no link leading out), links are re-created only inside it."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from harbench.contracts import HarbenchError
from harbench.data.download import CHUNK, Progress

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


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
