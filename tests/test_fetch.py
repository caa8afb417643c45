"""Download, checksum, resume and safe extraction against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harbench.contracts import Channel, DatasetPlugin, HarbenchError, Recording
from harbench.data.fetch import (
    archive_name,
    download,
    downloads_dir,
    extract,
    fetch,
    partial_path,
    verify,
)
from harbench.data.parsing import interpolate_nans, read_numeric_table

# ---- a local server with Range support ---------------------------------------------------------


class Site:
    """What the test server serves, and what it saw."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_first: dict[str, int] = {}  # path -> bytes sent before dropping the first request
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path


def make_handler(site: Site):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output quiet
            pass

        def do_GET(self) -> None:
            site.requests.append((self.path, self.headers.get("Range")))
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            header = self.headers.get("Range")
            if header and self.path not in site.ignore_range:
                start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            cut = site.cut_first.pop(self.path, None)
            if cut is not None:
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def site():
    state = Site()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# ---- archives written by the tests -------------------------------------------------------------


def subject_csv(subject: int, nan_at: int | None = None) -> str:
    """A tiny recording: 'ax,ay,az,label' per row, 40 rows, labels 1/2 (0 = unlabelled)."""
    rng = np.random.default_rng(subject)
    lines = ["ax,ay,az,label"]
    for t in range(40):
        values = [f"{v:.4f}" for v in rng.standard_normal(3)]
        if nan_at == t:
            values[1] = "NaN"
        lines.append(",".join(values + [str(1 + (t >= 20) if t >= 2 else 0)]))
    return "\n".join(lines) + "\n"


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def dataset_zip() -> bytes:
    # random padding makes the archive large enough to interrupt part-way
    padding = np.random.default_rng(0).bytes(200_000)
    return zip_bytes(
        {
            "tiny/s1.csv": subject_csv(1),
            "tiny/s2.csv": subject_csv(2, nan_at=7),
            "tiny/README.txt": "tiny test dataset\n",
            "tiny/padding.bin": padding,
        }
    )


class Tiny(DatasetPlugin):
    """A two-subject dataset whose raw format is the CSVs of ``subject_csv`` under tiny/."""

    name = "tiny_http"
    title = "Tiny dataset served over HTTP"
    channels = tuple(Channel(f"acc_{a}", "acc", "wrist", "g") for a in "xyz")
    rate_hz = 10.0
    subjects = (1, 2)
    classes = ("walking", "sitting")
    label_codes = (1, 2)
    window_s = 1.0
    step_s = 0.5

    def is_present(self, root: Path) -> bool:
        return (root / "tiny" / "s1.csv").is_file()

    def load(self, root: Path) -> list[Recording]:
        recordings = []
        self.nan_count = 0
        for subject in self.subjects:
            table = read_numeric_table(
                root / "tiny" / f"s{subject}.csv", delimiter=",", skip_header=1
            )
            signals, filled = interpolate_nans(table[:, :3])
            self.nan_count += filled
            labels = table[:, 3].astype(np.int64) - 1
            recordings.append(Recording(subject, signals.astype(np.float32), labels, f"s{subject}"))
        return recordings


def make_plugin(urls: tuple[str, ...], sha: dict[str, str]) -> Tiny:
    plugin = Tiny()
    plugin.archive_urls = urls
    plugin.sha256 = sha
    return plugin


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- download and fetch ------------------------------------------------------------------------


def test_fetch_with_matching_checksum_extracts(site, tmp_path):
    body = dataset_zip()
    site.files["/files/tiny.zip"] = body
    plugin = make_plugin((site.url("/files/tiny.zip"),), {"tiny.zip": sha(body)})
    root = tmp_path / "data" / "tiny_http"
    seen: list[tuple[str, int, int | None]] = []

    assert fetch(plugin, root, progress=lambda *a: seen.append(a)) == root

    assert (root / "tiny" / "s1.csv").read_text() == subject_csv(1)
    assert (root / "tiny" / "README.txt").read_text() == "tiny test dataset\n"
    archive = downloads_dir(root) / "tiny.zip"
    assert archive.read_bytes() == body
    assert not partial_path(archive).exists()
    assert ("tiny.zip", len(body), len(body)) in seen
    assert plugin.is_present(root)


def test_checksum_mismatch_deletes_and_names_everything(site, tmp_path):
    body = dataset_zip()
    site.files["/tiny.zip"] = body
    wrong = "0" * 64
    plugin = make_plugin((site.url("/tiny.zip"),), {"tiny.zip": wrong})
    root = tmp_path / "data" / "tiny_http"

    with pytest.raises(HarbenchError) as err:
        fetch(plugin, root)

    message = str(err.value)
    assert site.url("/tiny.zip") in message
    assert wrong in message and sha(body) in message
    archive = downloads_dir(root) / "tiny.zip"
    assert not archive.exists() and not partial_path(archive).exists()
    assert not (root / "tiny").exists()


def test_interrupted_download_resumes_with_range(site, tmp_path):
    body = dataset_zip()
    site.files["/tiny.zip"] = body
    site.cut_first["/tiny.zip"] = 50_000
    dest = tmp_path / "dl" / "tiny.zip"

    with pytest.raises(HarbenchError, match="kept"):
        download(site.url("/tiny.zip"), dest, sha256=sha(body), retries=0)
    assert partial_path(dest).stat().st_size == 50_000
    assert not dest.exists()

    download(site.url("/tiny.zip"), dest, sha256=sha(body), retries=0)

    assert dest.read_bytes() == body
    assert site.requests == [("/tiny.zip", None), ("/tiny.zip", "bytes=50000-")]
    assert not partial_path(dest).exists()


def test_dropped_connection_is_resumed_within_one_call(site, tmp_path):
    body = dataset_zip()
    site.files["/tiny.zip"] = body
    site.cut_first["/tiny.zip"] = 123_457
    dest = tmp_path / "tiny.zip"

    download(site.url("/tiny.zip"), dest, sha256=sha(body))

    assert sha(dest.read_bytes()) == sha(body)
    assert [r for _, r in site.requests] == [None, "bytes=123457-"]


def test_server_ignoring_range_restarts_from_zero(site, tmp_path):
    body = dataset_zip()
    site.files["/tiny.zip"] = body
    site.ignore_range.add("/tiny.zip")
    dest = tmp_path / "tiny.zip"
    partial_path(dest).write_bytes(b"garbage that is not a prefix")

    download(site.url("/tiny.zip"), dest, sha256=sha(body))

    assert dest.read_bytes() == body
    assert site.requests == [("/tiny.zip", "bytes=28-")]


def test_http_error_names_url_and_status(site, tmp_path):
    with pytest.raises(HarbenchError, match=r"missing\.zip.*HTTP 404"):
        download(site.url("/missing.zip"), tmp_path / "missing.zip")


def test_non_http_scheme_is_refused(tmp_path):
    with pytest.raises(HarbenchError, match="ftp://host/a.zip"):
        download("ftp://host/a.zip", tmp_path / "a.zip")


def test_manual_dataset_raises_its_instructions(tmp_path):
    plugin = make_plugin((), {})
    plugin.source_url = "https://example.org/tiny-after-login"
    with pytest.raises(HarbenchError) as err:
        fetch(plugin, tmp_path / "tiny_http")
    assert "cannot be downloaded automatically" in str(err.value)
    assert plugin.fetch_instructions(tmp_path / "tiny_http") in str(err.value)


def test_nested_archive_is_extracted_in_place(site, tmp_path):
    inner = dataset_zip()
    outer = zip_bytes({"tiny.zip": inner, "__MACOSX/._tiny.zip": b"resource fork"})
    site.files["/wrapper.zip"] = outer
    plugin = make_plugin((site.url("/wrapper.zip"),), {})
    root = tmp_path / "tiny_http"

    fetch(plugin, root)

    assert (root / "tiny" / "s2.csv").read_text() == subject_csv(2, nan_at=7)
    assert not (root / "__MACOSX").exists()


def test_archive_name_from_url():
    assert archive_name("https://x.org/static/public/341/a%20b.zip?download=1") == "a b.zip"
    assert archive_name("https://x.org/") == "archive"


def test_verify_reports_files_checksums_and_loading(site, tmp_path):
    body = dataset_zip()
    site.files["/tiny.zip"] = body
    plugin = make_plugin((site.url("/tiny.zip"),), {"tiny.zip": sha(body)})
    root = tmp_path / "tiny_http"

    before = verify(plugin, root)
    assert before["present"] is False and before["loadable"] is False
    assert str(root) in before["error"]

    fetch(plugin, root)
    report = verify(plugin, root)

    assert report["present"] and report["loadable"] and report["error"] is None
    assert report["files"] == 4
    assert report["archives"][0]["ok"] is True
    assert report["archives"][0]["sha256"] == sha(body)
    assert report["recordings"] == 2 and report["subjects"] == 2
    assert report["samples"] == 80 and report["labelled"] == 76
    assert report["nan"] == 0 and report["nan_filled"] == 1
    assert report["problems"] == []


# ---- safe extraction ---------------------------------------------------------------------------


def test_zip_member_climbing_out_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"fine.txt": "ok", "../evil.txt": "pwned"}))
    target = tmp_path / "target"

    with pytest.raises(HarbenchError, match=r"\.\./evil\.txt"):
        extract(archive, target)

    assert not (tmp_path / "evil.txt").exists()
    assert not (target / "fine.txt").exists()  # checked before anything is written


def test_zip_backslash_climb_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"a\\..\\..\\evil.txt": "pwned"}))
    with pytest.raises(HarbenchError, match="outside the target"):
        extract(archive, tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()


def tar_bytes(members: list[tarfile.TarInfo], data: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                tf.addfile(info)
    return buffer.getvalue()


def file_info(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def link_info(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def test_tar_absolute_member_is_refused(tmp_path):
    outside = tmp_path / "abs.txt"
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_bytes([file_info(str(outside))], {str(outside): b"pwned"}))

    with pytest.raises(HarbenchError) as err:
        extract(archive, tmp_path / "target")

    assert str(outside).lstrip("/") in str(err.value) and "absolute" in str(err.value)
    assert not outside.exists()


def test_tar_symlink_outside_is_refused(tmp_path):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes([link_info("data/link", "../../secret")], {}, mode="w"))
    with pytest.raises(HarbenchError, match="data/link"):
        extract(archive, tmp_path / "target")
    assert not (tmp_path / "target" / "data" / "link").exists()


def test_tar_chain_of_links_leaving_target_is_refused(tmp_path):
    # each link alone stays inside, but p/e -> d/.. with p/d -> .. lands in target's parent
    members = [link_info("p/d", ".."), link_info("p/e", "d/.."), file_info("p/e/evil.txt")]
    archive = tmp_path / "chain.tar.xz"
    archive.write_bytes(tar_bytes(members, {"p/e/evil.txt": b"pwned"}, mode="w:xz"))
    target = tmp_path / "target"

    with pytest.raises(HarbenchError, match="p/e"):
        extract(archive, target)

    assert not (tmp_path / "evil.txt").exists()
    assert not (target / "p" / "e").is_symlink()


def test_tar_device_member_is_refused(tmp_path):
    info = tarfile.TarInfo("dev/null")
    info.type = tarfile.CHRTYPE
    archive = tmp_path / "dev.tar.bz2"
    archive.write_bytes(tar_bytes([info], {}, mode="w:bz2"))
    with pytest.raises(HarbenchError, match="dev/null"):
        extract(archive, tmp_path / "target")


def test_tar_with_inside_links_extracts(tmp_path):
    hard = tarfile.TarInfo("a/copy.txt")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "a/file.txt"
    members = [file_info("a/file.txt"), link_info("a/alias.txt", "file.txt"), hard]
    archive = tmp_path / "ok.tgz"
    archive.write_bytes(tar_bytes(members, {"a/file.txt": b"hello"}, mode="w:gz"))
    target = tmp_path / "target"

    written = extract(archive, target)

    assert (target / "a" / "file.txt").read_bytes() == b"hello"
    assert (target / "a" / "alias.txt").is_symlink()
    assert (target / "a" / "alias.txt").read_bytes() == b"hello"
    assert (target / "a" / "copy.txt").read_bytes() == b"hello"
    assert sorted(p.name for p in written) == ["copy.txt", "file.txt"]


def test_not_an_archive_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"this is not a zip")
    with pytest.raises(HarbenchError, match="broken.zip"):
        extract(broken, tmp_path / "target")
