"""The simulator's disks and shares: a local directory tree standing in for Windows paths.

``\\\\host\\share\\dir\\disk.vhdx`` lives at ``<root>/host/share/dir/disk.vhdx`` and
``C:\\VMs\\disk.vhdx`` at ``<root>/_local/C/VMs/disk.vhdx``. A simulated virtual disk is a small
JSON document (format, virtual size, parent); any other file (a real template copied in) counts as
a disk whose virtual size is its file size. The same tree is what the simulator's storage adaptors
serve, so a template copied onto a "share" is a disk the simulated host can use.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from cshyperv.errors import HypervisorError, VolumeNotFoundError
from cshyperv.hypervisor import VolumeInfo
from cshyperv.storage import LocalStorageAdaptor

__all__ = ["MAGIC", "SimulatedFiles", "simulated_disk_bytes"]

MAGIC = "cshyperv-simulated-disk"
_DRIVE = re.compile(r"^([A-Za-z]):[\\/]?(.*)$")


def simulated_disk_bytes(size_bytes: int, *, fmt: str = "VHDX", parent: str | None = None) -> bytes:
    """The content of a simulated virtual disk (what a demo or test seeds as a template)."""
    return json.dumps({MAGIC: 1, "format": fmt, "size_bytes": size_bytes, "parent": parent}).encode()


class SimulatedFiles:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def local(self, windows_path: str) -> Path:
        """The local file standing for a UNC or drive path."""
        text = windows_path.replace("/", "\\")
        if text.startswith("\\\\"):
            parts = [p for p in text[2:].split("\\") if p]
        else:
            match = _DRIVE.match(text)
            if match is None:
                raise HypervisorError("the simulator expects a UNC path or a drive path")
            parts = ["_local", match.group(1).upper(), *[p for p in match.group(2).split("\\") if p]]
        if any(p in ("..", ".") for p in parts):
            raise HypervisorError("'..' is not allowed in a disk path")
        return self.root.joinpath(*parts)

    def share(self, host: str, share: str) -> LocalStorageAdaptor:
        """A storage adaptor over the simulated SMB share ``\\\\host\\share``."""
        path = self.root / host / share
        path.mkdir(parents=True, exist_ok=True)
        return LocalStorageAdaptor(path)

    def disk(self, windows_path: str) -> VolumeInfo | None:
        path = self.local(windows_path)
        if not path.is_file():
            return None
        raw = path.read_bytes()[:4096] if path.stat().st_size <= 4096 else b""
        meta = None
        if raw.startswith(b"{"):
            try:
                meta = json.loads(raw)
            except ValueError:
                meta = None
        if isinstance(meta, dict) and meta.get(MAGIC):
            return VolumeInfo(
                path=windows_path,
                size_bytes=int(meta["size_bytes"]),
                physical_bytes=path.stat().st_size,
                parent=meta.get("parent"),
                format=str(meta.get("format") or "VHDX"),
            )
        size = path.stat().st_size
        fmt = "VHD" if windows_path.lower().endswith(".vhd") else "VHDX"
        return VolumeInfo(path=windows_path, size_bytes=size, physical_bytes=size, format=fmt)

    def _write(self, windows_path: str, size_bytes: int, fmt: str, parent: str | None) -> VolumeInfo:
        path = self.local(windows_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_bytes(simulated_disk_bytes(size_bytes, fmt=fmt, parent=parent))
        os.replace(tmp, path)
        info = self.disk(windows_path)
        assert info is not None
        return info

    @staticmethod
    def _format(windows_path: str) -> str:
        lowered = windows_path.lower()
        if lowered.endswith(".iso"):
            return "ISO"
        return "VHD" if lowered.endswith(".vhd") else "VHDX"

    def create_disk(self, windows_path: str, size_bytes: int, *, parent: str | None = None) -> VolumeInfo:
        if parent is not None:
            base = self.disk(parent)
            if base is None:
                raise VolumeNotFoundError(parent)
            size_bytes = max(size_bytes, base.size_bytes)
        return self._write(windows_path, size_bytes, self._format(windows_path), parent)

    def clone_disk(self, source: str, target: str, *, size_bytes: int | None = None) -> VolumeInfo:
        base = self.disk(source)
        if base is None:
            raise VolumeNotFoundError(source)
        return self._write(target, max(base.size_bytes, size_bytes or 0), base.format or "VHDX", None)

    def resize_disk(self, windows_path: str, size_bytes: int) -> VolumeInfo:
        info = self.disk(windows_path)
        if info is None:
            raise VolumeNotFoundError(windows_path)
        if size_bytes < info.size_bytes:
            raise HypervisorError(f"shrinking a disk is not supported ({info.size_bytes} -> {size_bytes} bytes)")
        return self._write(windows_path, size_bytes, info.format or "VHDX", info.parent)

    def delete(self, windows_path: str) -> None:
        self.local(windows_path).unlink(missing_ok=True)

    def move(self, source: str, target: str) -> None:
        src, dst = self.local(source), self.local(target)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)

    def used_bytes(self) -> int:
        local = self.root / "_local"
        if not local.exists():
            return 0
        return sum(f.stat().st_size for f in local.rglob("*") if f.is_file())
