"""Installing a template into a store: download, verify, decompress, publish atomically.

:func:`install_template` streams the source (an ``http(s)://`` URL, or any file an adaptor can
read), hashes the bytes as they arrive (the checksum CloudStack registers is of the file as
published at the URL, compressed or not), decompresses ``.bz2``/``.gz``/``.xz`` on the fly (a
``.zip`` is spooled to a local temporary file first: its directory is at the end), writes under a
temporary name, checks the checksum, renames, and only then writes ``template.properties`` —
whose presence means "installed". A failure at any point leaves nothing under the final names; a
rerun starts cleanly (stale temporary files are removed), and a rerun after success returns at
once when the recorded checksum matches.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import lzma
import posixpath
import shutil
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any, BinaryIO

import attrs

from cshyperv._redact import redact_url_credentials
from cshyperv.errors import ChecksumMismatchError, DownloadError, StorageError, TemplateError
from cshyperv.storage._adaptor import StorageAdaptor
from cshyperv.storage.transfer import CHUNK_SIZE, Progress, copy_stream
from cshyperv.storage.vhd import SizeSniffer

__all__ = ["Checksum", "InstalledTemplate", "install_template", "read_template_properties"]

_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256",
               "sha512": "sha512", "sha-512": "sha512"}  # fmt: skip
_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_COMPRESSED = (".bz2", ".gz", ".xz", ".zip")


@attrs.frozen
class Checksum:
    """An expected digest. :meth:`parse` reads CloudStack's ``{MD5}hex``/``{SHA-256}hex`` forms and
    bare hex (the algorithm then follows from the length: 32 MD5, 40 SHA-1, 64 SHA-256, 128 SHA-512)."""

    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str | None) -> Checksum | None:
        if text is None or not text.strip():
            return None
        value = text.strip()
        algorithm = None
        if value.startswith("{") and "}" in value:
            name, value = value[1:].split("}", 1)
            algorithm = _ALGORITHMS.get(name.strip().lower())
            if algorithm is None:
                raise TemplateError(f"unsupported checksum algorithm {name.strip()!r}")
        value = value.strip().lower()
        if not value or any(c not in "0123456789abcdef" for c in value):
            raise TemplateError("a checksum must be hexadecimal")
        if algorithm is None:
            algorithm = _BY_LENGTH.get(len(value))
            if algorithm is None:
                raise TemplateError("cannot tell the checksum algorithm from its length")
        if len(value) != hashlib.new(algorithm).digest_size * 2:
            raise TemplateError(f"a {algorithm} checksum has {hashlib.new(algorithm).digest_size * 2} hex digits")
        return cls(algorithm=algorithm, hexdigest=value)

    def __str__(self) -> str:
        label = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}[self.algorithm]
        return f"{{{label}}}{self.hexdigest}"


@attrs.frozen
class InstalledTemplate:
    """Where the template now is (``path`` relative to the store) and its sizes in bytes:
    ``virtual_size`` is the disk size a VHD/VHDX declares in its headers, else the file size."""

    path: str
    size: int
    virtual_size: int
    checksum: str | None
    reused: bool = False


def read_template_properties(store: StorageAdaptor, folder: str) -> dict[str, str]:
    """``template.properties`` in ``folder`` as a dict ({} when absent)."""
    try:
        with store.open_read(posixpath.join(folder, "template.properties") if folder else "template.properties") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return {}
    result = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def install_template(
    source: str,
    store: StorageAdaptor,
    folder: str,
    *,
    name: str | None = None,
    checksum: str | Checksum | None = None,
    progress: Progress | None = None,
    open_source: Callable[[str], tuple[BinaryIO, int | None]] | None = None,
    template_id: int | None = None,
    unique_name: str | None = None,
    description: str = "",
    image_format: str | None = None,
    verify_tls: bool = True,
    timeout_s: float = 60.0,
    write_properties: bool = True,
) -> InstalledTemplate:
    """Install ``source`` as ``<folder>/<name>`` in ``store``, with ``template.properties`` beside it.

    ``name`` defaults to the source's file name without its compression suffix; ``image_format``
    (the ``template.properties`` keys) to its extension. With
    ``write_properties=False`` (templates placed straight on primary storage, many per folder) no
    ``template.properties`` is written and no earlier install is reused. ``open_source``
    opens non-HTTP sources (``(stream, size)``); :class:`RemoteStorageAccess` users pass a function
    that reads through an adaptor. Raises :class:`DownloadError`, :class:`ChecksumMismatchError`,
    :class:`TemplateError` or the store's ``OSError``; the password of a URL never appears in them.
    """
    expected = checksum if isinstance(checksum, Checksum) or checksum is None else Checksum.parse(checksum)
    shown = redact_url_credentials(source)
    file_name = posixpath.basename(source.split("?", 1)[0].replace("\\", "/")) or "template"
    compression = next((ext for ext in _COMPRESSED if file_name.lower().endswith(ext)), None)
    final_name = name or (file_name[: -len(compression)] if compression else file_name)
    if "/" in final_name or "\\" in final_name or final_name in ("", ".", ".."):
        raise TemplateError("a template name must be a plain file name")
    target = posixpath.join(folder, final_name) if folder else final_name

    existing = read_template_properties(store, folder) if write_properties else {}
    if expected is not None and existing.get("checksum") == str(expected) and store.exists(target):
        size = store.stat(target).size
        virtual = int(existing.get("virtualsize", size) or size)
        return InstalledTemplate(path=target, size=size, virtual_size=virtual, checksum=str(expected), reused=True)

    if open_source is None:
        if not source.lower().startswith(("http://", "https://")):
            raise TemplateError("only http(s) sources can be opened without a storage access", location=shown)
        stream, total = _open_http(source, verify_tls=verify_tls, timeout_s=timeout_s)
    else:
        stream, total = open_source(source)

    hasher = hashlib.new(expected.algorithm) if expected is not None else None
    counted = _Counting(stream, hasher, total, shown)
    spool: IO[bytes] | None = None
    try:
        if compression == ".zip":
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
            shutil.copyfileobj(counted, spool, CHUNK_SIZE)
            counted.finish()
            _check(hasher, expected, shown)
            spool.seek(0)
            reader: Any = _zip_member(spool, shown)
        elif compression is not None:
            reader = _Decompressing(counted, compression, shown)
        else:
            reader = counted
        # Progress counts source bytes (what Content-Length announced), also when decompressing.
        relay = None if progress is None else (lambda _done, _total: progress(counted.done, total))
        sniffer = SizeSniffer(reader)
        written = copy_stream(sniffer, store, target + ".unverified", progress=relay)
        virtual = sniffer.virtual_size() or written
        try:
            if compression != ".zip":
                counted.finish()
                _check(hasher, expected, shown)
            store.rename(target + ".unverified", target)
        except BaseException:
            _quiet_remove(store, target + ".unverified")
            raise
    finally:
        stream.close()
        if spool is not None:
            spool.close()

    if not write_properties:
        return InstalledTemplate(path=target, size=written, virtual_size=virtual, checksum=_label(expected))
    if image_format is None:
        image_format = posixpath.splitext(final_name)[1].lstrip(".").lower() or "raw"
    lines = {
        "filename": final_name,
        "id": "" if template_id is None else str(template_id),
        "public": "true",
        image_format: "true",
        f"{image_format}.filename": final_name,
        f"{image_format}.size": str(written),
        f"{image_format}.virtualsize": str(virtual),
        "virtualsize": str(virtual),
        "size": str(written),
        "uniquename": unique_name or final_name,
        "description": description,
        "hvm": "true",
        "checksum": str(expected) if expected is not None else "",
    }
    text = "".join(f"{key}={value}\n" for key, value in lines.items()).encode("utf-8")
    props = posixpath.join(folder, "template.properties") if folder else "template.properties"
    copy_stream(_BytesReader(text), store, props)
    return InstalledTemplate(path=target, size=written, virtual_size=virtual, checksum=_label(expected))


def _label(expected: Checksum | None) -> str | None:
    return None if expected is None else str(expected)


def _check(hasher: Any, expected: Checksum | None, shown: str) -> None:
    if hasher is not None and expected is not None and hasher.hexdigest() != expected.hexdigest:
        raise ChecksumMismatchError(str(expected).split("}")[0].lstrip("{"), location=shown)


def _quiet_remove(store: StorageAdaptor, path: str) -> None:
    with contextlib.suppress(Exception):
        store.remove(path)


def _open_http(url: str, *, verify_tls: bool, timeout_s: float) -> tuple[BinaryIO, int | None]:
    shown = redact_url_credentials(url)
    context = ssl.create_default_context()
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"User-Agent": "cshyperv", "Accept-Encoding": "identity"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s, context=context)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(f"the server answered HTTP {exc.code}", location=shown) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download ({type(reason).__name__})", location=shown) from None
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    return response, total


class _Counting:
    """Reads the source, hashing and counting; a body shorter than announced is an error."""

    def __init__(self, stream: BinaryIO, hasher: Any, total: int | None, shown: str) -> None:
        self._stream = stream
        self._hasher = hasher
        self._total = total
        self._shown = shown
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except (OSError, ValueError) as exc:
            if isinstance(exc, StorageError):
                raise
            raise DownloadError(f"the download broke off ({type(exc).__name__})", location=self._shown) from None
        if self._hasher is not None:
            self._hasher.update(data)
        self.done += len(data)
        return data

    def finish(self) -> None:
        if self._total is not None and self.done != self._total:
            raise DownloadError(f"the download ended after {self.done} of {self._total} bytes", location=self._shown)


class _Decompressing:
    """A reader that decompresses .bz2, .gz or .xz as it reads."""

    def __init__(self, source: _Counting, suffix: str, shown: str) -> None:
        self._source = source
        self._shown = shown
        self._suffix = suffix
        makers: dict[str, Callable[[], Any]] = {
            ".bz2": bz2.BZ2Decompressor,
            ".xz": lzma.LZMADecompressor,
            ".gz": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        }
        self._new = makers[suffix]
        self._engine: Any = self._new()
        self._pending = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        want = CHUNK_SIZE if size < 0 else size
        while len(self._pending) < want and not self._eof:
            self._step()
        data, self._pending = self._pending[:want], self._pending[want:]
        return data

    def _step(self) -> None:
        raw = self._source.read(1024 * 1024)
        try:
            if not raw:
                if self._suffix == ".gz":
                    self._pending += self._engine.flush()
                if not _finished(self._engine):
                    raise TemplateError("the compressed template is truncated", location=self._shown)
                self._eof = True
                return
            while raw:
                out = self._engine.decompress(raw)
                self._pending += out
                if _finished(self._engine):
                    # Concatenated streams (pbzip2, multi-member gzip): start a new decompressor.
                    raw = self._engine.unused_data
                    if raw:
                        self._engine = self._new()
                else:
                    raw = b""
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise TemplateError(
                f"cannot decompress the template ({type(exc).__name__})", location=self._shown
            ) from None


def _finished(engine: Any) -> bool:
    return bool(getattr(engine, "eof", False))


def _zip_member(spool: IO[bytes], shown: str) -> IO[bytes]:
    try:
        archive = zipfile.ZipFile(spool)
        members = [m for m in archive.infolist() if not m.is_dir()]
    except zipfile.BadZipFile:
        raise TemplateError("the template is not a valid zip archive", location=shown) from None
    if len(members) != 1:
        raise TemplateError(f"a zipped template must hold exactly one file (it holds {len(members)})", location=shown)
    return archive.open(members[0])


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self._data)
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk
