"""Config-drive ISO images: how boot arguments and user data reach guests where Hyper-V KVP fails.

The legacy agent handed system VMs their boot arguments as a KVP (key-value pair) item; on current
Hyper-V many guests never see it (CloudStack issue #4072). A config drive does not depend on
integration services: a small ISO 9660 image labelled ``config-2`` — what cloud-init's ConfigDrive
datasource and cloudbase-init look for — attached as a DVD. The plug-in builds it here, in Python,
and the create script writes it next to the VM's configuration; KVP is still set, and the guest
uses whichever reaches it.

Layout (OpenStack's, which CloudStack's own config drives also use):

* ``openstack/latest/meta_data.json`` — ``uuid``, ``name``, ``hostname``, ``launch_index``;
* ``openstack/latest/user_data`` — the user data, byte for byte (only when there is some);
* ``cmdline`` — the boot arguments line (``key=value ...``) system VMs otherwise read from KVP.

:func:`build_iso` writes ISO 9660 with a Joliet supplementary volume descriptor (so names keep
their case and length on Linux and Windows), deterministically: the same files and timestamp give
the same bytes, so a retried create writes an identical file.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Mapping

import attrs

from cshyperv.hypervisor import VmSpec

__all__ = ["CONFIG_DRIVE_LABEL", "build_config_drive", "build_iso", "config_drive_files"]

CONFIG_DRIVE_LABEL = "config-2"
SECTOR = 2048
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def config_drive_files(spec: VmSpec) -> dict[str, bytes]:
    """The files of ``spec``'s config drive (empty when it has neither boot args nor user data)."""
    if not spec.boot_args and not spec.user_data:
        return {}
    meta = {"uuid": spec.uuid or spec.name, "name": spec.name, "hostname": spec.name, "launch_index": 0}
    files = {"openstack/latest/meta_data.json": json.dumps(meta, sort_keys=True).encode("utf-8")}
    if spec.user_data:
        files["openstack/latest/user_data"] = spec.user_data.encode("utf-8")
    if spec.boot_args:
        files["cmdline"] = spec.boot_args.encode("utf-8") + b"\n"
    return files


def build_config_drive(spec: VmSpec) -> bytes | None:
    """The ISO image for ``spec``, or None when there is nothing to put on it."""
    files = config_drive_files(spec)
    return build_iso(files, label=CONFIG_DRIVE_LABEL) if files else None


# -- ISO 9660 + Joliet -----------------------------------------------------------------------


def _both16(value: int) -> bytes:
    return struct.pack("<H", value) + struct.pack(">H", value)


def _both32(value: int) -> bytes:
    return struct.pack("<I", value) + struct.pack(">I", value)


def _record_date(when: dt.datetime) -> bytes:
    return bytes([when.year - 1900, when.month, when.day, when.hour, when.minute, when.second, 0])


def _volume_date(when: dt.datetime) -> bytes:
    return when.strftime("%Y%m%d%H%M%S00").encode("ascii") + b"\x00"


@attrs.define
class _Dir:
    path: str
    parent: _Dir | None
    children: dict[str, _Dir] = attrs.field(factory=dict)
    files: dict[str, bytes] = attrs.field(factory=dict)
    number: int = 0
    extent: dict[bool, int] = attrs.field(factory=dict)  # joliet? -> first sector
    size: dict[bool, int] = attrs.field(factory=dict)


def _primary_names(names: list[str], is_dir: bool) -> dict[str, bytes]:
    """ISO 9660 level-1-like names (upper case, 8.3, ``;1`` on files), unique within a folder."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    result: dict[str, bytes] = {}
    used: set[bytes] = set()
    for name in sorted(names):
        stem, _dot, ext = name.upper().rpartition(".") if not is_dir and "." in name else (name.upper(), "", "")
        stem = "".join(c if c in allowed else "_" for c in stem)[:8] or "_"
        ext = "".join(c if c in allowed else "_" for c in ext)[:3]
        for n in range(1000):
            base = stem if n == 0 else f"{stem[: 8 - len(str(n)) - 1]}_{n}"
            candidate = base + (f".{ext}" if ext else "") + ("" if is_dir else (";1" if ext else ".;1"))
            encoded = candidate.encode("ascii")
            if encoded not in used:
                used.add(encoded)
                result[name] = encoded
                break
    return result


def _joliet_name(name: str, is_dir: bool) -> bytes:
    # Joliet allows 64 UCS-2 characters; ``;1`` as mkisofs writes it on files.
    return (name[:64] + ("" if is_dir else ";1")).encode("utf-16-be")


def _dir_record(ident: bytes, extent: int, size: int, is_dir: bool, when: dt.datetime) -> bytes:
    length = 33 + len(ident) + (1 if len(ident) % 2 == 0 else 0)
    record = (
        bytes([length, 0])
        + _both32(extent)
        + _both32(size)
        + _record_date(when)
        + bytes([2 if is_dir else 0, 0, 0])
        + _both16(1)
        + bytes([len(ident)])
        + ident
    )
    return record + b"\x00" * (length - len(record))


def _pack_records(records: list[bytes]) -> bytes:
    """Directory records in sectors: a record never straddles a sector boundary."""
    out = bytearray()
    for record in records:
        room = SECTOR - len(out) % SECTOR
        if len(record) > room:
            out += b"\x00" * room
        out += record
    out += b"\x00" * (-len(out) % SECTOR)
    return bytes(out)


def build_iso(files: Mapping[str, bytes], *, label: str, when: dt.datetime = _EPOCH) -> bytes:
    """An ISO 9660 image (with Joliet) holding ``files`` (``/``-separated paths -> contents)."""
    root = _Dir(path="", parent=None)
    for path, data in sorted(files.items()):
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise ValueError("empty file name in a config drive")
        folder = root
        for part in parts[:-1]:
            folder = folder.children.setdefault(part, _Dir(path=f"{folder.path}/{part}", parent=folder))
        folder.files[parts[-1]] = bytes(data)

    # Breadth-first order numbers the directories for the path tables.
    order: list[_Dir] = [root]
    for folder in order:
        order.extend(folder.children[name] for name in sorted(folder.children))
    for number, folder in enumerate(order, start=1):
        folder.number = number

    def names(folder: _Dir, joliet: bool) -> tuple[dict[str, bytes], dict[str, bytes]]:
        if joliet:
            return (
                {n: _joliet_name(n, True) for n in folder.children},
                {n: _joliet_name(n, False) for n in folder.files},
            )
        return _primary_names(list(folder.children), True), _primary_names(list(folder.files), False)

    def records(folder: _Dir, joliet: bool, file_extents: dict[tuple[int, str], int]) -> list[bytes]:
        parent = folder.parent or folder
        out = [
            _dir_record(b"\x00", folder.extent.get(joliet, 0), folder.size.get(joliet, 0), True, when),
            _dir_record(b"\x01", parent.extent.get(joliet, 0), parent.size.get(joliet, 0), True, when),
        ]
        dir_names, file_names = names(folder, joliet)
        entries: list[tuple[bytes, bytes]] = []
        for name, child in folder.children.items():
            ident = dir_names[name]
            entries.append(
                (ident, _dir_record(ident, child.extent.get(joliet, 0), child.size.get(joliet, 0), True, when))
            )
        for name, data in folder.files.items():
            ident = file_names[name]
            extent = file_extents.get((folder.number, name), 0) if data else 0
            entries.append((ident, _dir_record(ident, extent, len(data), False, when)))
        # Records are sorted by identifier (ISO 9660 9.3).
        out.extend(record for _ident, record in sorted(entries))
        return out

    # Sizes first (they do not depend on extents), then place everything.
    for joliet in (False, True):
        for folder in order:
            folder.size[joliet] = len(_pack_records(records(folder, joliet, {})))

    def path_table(joliet: bool, big_endian: bool) -> bytes:
        out = bytearray()
        for folder in order:
            if folder is root:
                ident = b"\x00"
            else:
                assert folder.parent is not None
                dir_names, _ = names(folder.parent, joliet)
                ident = dir_names[folder.path.rsplit("/", 1)[1]]
            parent_number = (folder.parent or folder).number
            extent = folder.extent.get(joliet, 0)
            out += bytes([len(ident), 0])
            out += struct.pack(">I" if big_endian else "<I", extent)
            out += struct.pack(">H" if big_endian else "<H", parent_number)
            out += ident + (b"\x00" if len(ident) % 2 else b"")
        return bytes(out)

    table_size = {j: len(path_table(j, False)) for j in (False, True)}
    table_sectors = {j: -(-table_size[j] // SECTOR) for j in (False, True)}
    sector = 19  # 0-15 system area, 16 primary, 17 Joliet, 18 terminator
    tables: dict[tuple[bool, bool], int] = {}
    for joliet in (False, True):
        for big in (False, True):
            tables[(joliet, big)] = sector
            sector += table_sectors[joliet]
    for joliet in (False, True):
        for folder in order:
            folder.extent[joliet] = sector
            sector += folder.size[joliet] // SECTOR
    file_extents: dict[tuple[int, str], int] = {}
    contents: list[tuple[int, bytes]] = []
    for folder in order:
        for name in sorted(folder.files):
            data = folder.files[name]
            if data:
                file_extents[(folder.number, name)] = sector
                contents.append((sector, data))
                sector += -(-len(data) // SECTOR)
    total = sector

    image = bytearray(total * SECTOR)

    def put(at: int, data: bytes) -> None:
        image[at * SECTOR : at * SECTOR + len(data)] = data

    for joliet in (False, True):
        put(tables[(joliet, False)], path_table(joliet, False))
        put(tables[(joliet, True)], path_table(joliet, True))
        for folder in order:
            put(folder.extent[joliet], _pack_records(records(folder, joliet, file_extents)))
    for at, data in contents:
        put(at, data)

    for joliet in (False, True):
        descriptor = bytearray(SECTOR)
        descriptor[0] = 2 if joliet else 1
        descriptor[1:7] = b"CD001\x01"

        def text(value: str, width: int, joliet: bool = joliet) -> bytes:
            if joliet:
                return (value[: width // 2].encode("utf-16-be") + " ".encode("utf-16-be") * width)[:width]
            return value[:width].encode("ascii", "replace").ljust(width, b" ")

        descriptor[8:40] = text("", 32)
        descriptor[40:72] = text(label, 32)
        descriptor[80:88] = _both32(total)
        if joliet:
            descriptor[88:91] = b"%/E"  # UCS-2 level 3
        descriptor[120:124] = _both16(1)
        descriptor[124:128] = _both16(1)
        descriptor[128:132] = _both16(SECTOR)
        descriptor[132:140] = _both32(table_size[joliet])
        descriptor[140:144] = struct.pack("<I", tables[(joliet, False)])
        descriptor[148:152] = struct.pack(">I", tables[(joliet, True)])
        descriptor[156:190] = _dir_record(b"\x00", root.extent[joliet], root.size[joliet], True, when)
        for start, width in ((190, 128), (318, 128), (446, 128)):
            descriptor[start : start + width] = text("", width)
        descriptor[574:702] = text("CSHYPERV", 128)
        for start in (702, 739, 776):
            descriptor[start : start + 37] = text("", 37)
        descriptor[813:830] = _volume_date(when)
        descriptor[830:847] = _volume_date(when)
        descriptor[847:864] = b"0" * 16 + b"\x00"
        descriptor[864:881] = _volume_date(when)
        descriptor[881] = 1
        put(17 if joliet else 16, bytes(descriptor))
    terminator = bytearray(SECTOR)
    terminator[0] = 255
    terminator[1:7] = b"CD001\x01"
    put(18, bytes(terminator))
    return bytes(image)
