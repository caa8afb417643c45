"""Resumable download of one file with ``urllib`` alone (http, https, file), checked against its
sha256 where known. A partial file is kept beside the destination and resumed by a range request."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from harbench.contracts import HarbenchError

Progress = Callable[[str, int, "int | None"], None]
"""``progress(label, done, total)``: bytes (or members) done so far and the total where known."""

CHUNK = 1 << 16
SCHEMES = ("http", "https", "file")
USER_AGENT = "harbench (+https://pypi.org/project/harbench)"


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


def downloads_dir(root: Path) -> Path:
    """Where the archives of the dataset whose folder is ``root`` are kept."""
    root = Path(root)
    return root.parent / ".downloads" / root.name
