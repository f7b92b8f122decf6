"""Template installation from a real HTTP server into local, Samba and NFS stores."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.errors import ChecksumMismatchError, DownloadError, TemplateError
from cshyperv.storage import Checksum, StorageAdaptor, install_template, read_template_properties

PAYLOAD = os.urandom(2 * 1024 * 1024 + 123)


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("disk.vhdx", data)
    return buf.getvalue()


FILES = {
    "/t/disk.vhdx": PAYLOAD,
    "/t/disk.vhdx.gz": gzip.compress(PAYLOAD),
    "/t/disk.vhdx.bz2": bz2.compress(PAYLOAD),
    "/t/disk.vhdx.xz": lzma.compress(PAYLOAD),
    "/t/disk.vhdx.zip": _zip(PAYLOAD),
    "/t/corrupt.vhdx.gz": gzip.compress(PAYLOAD)[:-5000],
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/t/truncated.vhdx":
            # Announces more than it sends, then hangs up: a broken download.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.close_connection = True
            return
        body = FILES.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz", ".zip"])
def test_install_decompresses_verifies_and_publishes(
    store: tuple[str, StorageAdaptor, Path], web: str, suffix: str
) -> None:
    _kind, adaptor, disk = store
    source = f"{web}/t/disk.vhdx{suffix}"
    digest = hashlib.sha256(FILES[f"/t/disk.vhdx{suffix}"]).hexdigest()
    progress: list[tuple[int, int | None]] = []
    installed = install_template(
        source, adaptor, "template/tmpl/2/201", checksum=f"{{SHA-256}}{digest}", template_id=201,
        progress=lambda d, t: progress.append((d, t)),
    )  # fmt: skip
    assert installed.path == "template/tmpl/2/201/disk.vhdx" and installed.size == len(PAYLOAD)
    folder = disk / "template" / "tmpl" / "2" / "201"
    assert (folder / "disk.vhdx").read_bytes() == PAYLOAD
    assert sorted(os.listdir(folder)) == ["disk.vhdx", "template.properties"]
    props = read_template_properties(adaptor, "template/tmpl/2/201")
    assert props["filename"] == "disk.vhdx" and props["id"] == "201" and props["size"] == str(len(PAYLOAD))
    assert props["vhdx"] == "true" and props["checksum"] == f"{{SHA-256}}{digest}"
    assert progress[-1][0] == len(FILES[f"/t/disk.vhdx{suffix}"])
    # A rerun with the same checksum is a no-op.
    again = install_template(source, adaptor, "template/tmpl/2/201", checksum=f"{{SHA-256}}{digest}")
    assert again.reused and again.size == len(PAYLOAD)


@pytest.mark.parametrize(
    ("path", "checksum", "error"),
    [
        ("/t/disk.vhdx", "{MD5}" + "0" * 32, ChecksumMismatchError),
        ("/t/disk.vhdx.gz", "0" * 64, ChecksumMismatchError),
        ("/t/missing.vhdx", None, DownloadError),
        ("/t/truncated.vhdx", None, DownloadError),
        ("/t/corrupt.vhdx.gz", None, TemplateError),
    ],
)
def test_failures_leave_nothing_under_final_names(
    store: tuple[str, StorageAdaptor, Path], web: str, path: str, checksum: str | None, error: type[Exception]
) -> None:
    _kind, adaptor, disk = store
    with pytest.raises(error) as info:
        install_template(f"{web}{path}?password=hunter2", adaptor, "template/x", checksum=checksum)
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value)
    folder = disk / "template" / "x"
    left = os.listdir(folder) if folder.exists() else []
    assert "template.properties" not in left and not [n for n in left if not n.endswith(".partial")]
    assert not left  # the temporary file is removed too when the store is still reachable


def test_checksum_forms() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    assert Checksum.parse(f"{{MD5}}{md5}") == Checksum("md5", md5)
    assert Checksum.parse(md5.upper()) == Checksum("md5", md5)
    assert Checksum.parse("{SHA-256}" + "a" * 64) == Checksum("sha256", "a" * 64)
    assert Checksum.parse("{sha512}" + "b" * 128) == Checksum("sha512", "b" * 128)
    assert Checksum.parse("") is None and Checksum.parse(None) is None
    assert str(Checksum("sha256", "a" * 64)) == "{SHA-256}" + "a" * 64
    for bad in ("{CRC32}abcd", "xyz", "abc", "{MD5}" + "a" * 64):
        with pytest.raises(TemplateError):
            Checksum.parse(bad)
