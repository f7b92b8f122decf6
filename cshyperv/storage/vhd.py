"""The virtual size of a VHD or VHDX image, read from its own headers.

CloudStack sizes root volumes from a template's ``virtualsize``; for a dynamic or differencing disk
the file is far smaller than the disk it describes, so the file size will not do. Both formats
keep the figure near an end of the file, which lets :class:`SizeSniffer` find it while the bytes
stream past (no seeking, so it works on any adaptor and on downloads):

* VHD: a 512-byte footer (``conectix``) at the end, copied to the start of dynamic disks; the
  current size is a big-endian u64 at offset 48.
* VHDX: ``vhdxfile`` at offset 0, a region table at 192 KiB naming the metadata region, whose
  table holds the Virtual Disk Size item (a little-endian u64). Hyper-V and qemu-img put the
  metadata region within the first few MiB.
"""

from __future__ import annotations

import struct
import uuid

from cshyperv.storage._adaptor import StorageAdaptor

__all__ = ["HEAD_BYTES", "SizeSniffer", "probe_virtual_size", "virtual_size"]

HEAD_BYTES = 8 * 1024 * 1024
"""How much of the start of a stream is kept to find VHDX metadata."""

_REGION_TABLE = 192 * 1024
_METADATA_REGION = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e").bytes_le
_VIRTUAL_DISK_SIZE = uuid.UUID("2fa54224-cd1b-4876-b211-5dbed83bf4b8").bytes_le


def _vhd_footer(block: bytes) -> int | None:
    if len(block) >= 512 and block[:8] == b"conectix":
        size: int = struct.unpack_from(">Q", block, 48)[0]
        return size or None
    return None


def _vhdx(head: bytes) -> int | None:
    if head[:8] != b"vhdxfile" or len(head) < _REGION_TABLE + 16 or head[_REGION_TABLE : _REGION_TABLE + 4] != b"regi":
        return None
    (count,) = struct.unpack_from("<I", head, _REGION_TABLE + 8)
    for i in range(min(count, 2047)):
        entry = _REGION_TABLE + 16 + 32 * i
        if entry + 32 > len(head):
            return None
        if head[entry : entry + 16] != _METADATA_REGION:
            continue
        offset, length = struct.unpack_from("<QI", head, entry + 16)
        if offset + 32 > len(head) or head[offset : offset + 8] != b"metadata":
            return None
        (items,) = struct.unpack_from("<H", head, offset + 10)
        for j in range(min(items, 2047)):
            item = offset + 32 + 32 * j
            if item + 32 > min(len(head), offset + length):
                return None
            if head[item : item + 16] == _VIRTUAL_DISK_SIZE:
                (value_offset,) = struct.unpack_from("<I", head, item + 16)
                at = offset + value_offset
                if at + 8 > len(head):
                    return None
                size: int = struct.unpack_from("<Q", head, at)[0]
                return size or None
        return None
    return None


def virtual_size(head: bytes, tail: bytes) -> int | None:
    """The disk size a VHD/VHDX declares, from the first bytes and the last 512 of the file;
    None when the image is neither (or its metadata lies beyond ``head``)."""
    return _vhdx(head) or _vhd_footer(tail[-512:]) or _vhd_footer(head[:512])


class SizeSniffer:
    """Wraps a reader; remembers the first :data:`HEAD_BYTES` and the last 512 bytes read."""

    def __init__(self, reader: object) -> None:
        self._reader = reader
        self._head = bytearray()
        self._tail = b""

    def read(self, size: int = -1, /) -> bytes:
        data: bytes = self._reader.read(size)  # type: ignore[attr-defined]
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._tail = (self._tail + data)[-512:] if len(data) < 512 else data[-512:]
        return data

    def virtual_size(self) -> int | None:
        return virtual_size(bytes(self._head), self._tail)


def probe_virtual_size(adaptor: StorageAdaptor, path: str) -> int | None:
    """The declared size of the VHDX or dynamic VHD at ``path``, from its first bytes only (a
    fixed VHD keeps it only at the end: None, and the caller uses the file size minus 512)."""
    with adaptor.open_read(path) as reader:
        head = reader.read(HEAD_BYTES)
    found = _vhdx(head) or _vhd_footer(head[:512])
    if found is None and path.lower().endswith(".vhd"):
        size = adaptor.stat(path).size
        return size - 512 if size > 512 else None
    return found
