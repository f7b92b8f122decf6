"""Config-drive ISO images: how boot arguments and user data reach guests where Hyper-V KVP fails.

The legacy agent handed system VMs their boot arguments as a KVP (key-value pair) item; on current
Hyper-V many guests never see it (CloudStack issue #4072). A config drive does not depend on
integration services: a small ISO 9660 image labelled ``config-2`` — what cloud-init's ConfigDrive
datasource and cloudbase-init look for — attached as a DVD. The plug-in builds it here, in Python,
and the create script writes it next to the VM's configuration; KVP is still set, and the guest
uses whichever reaches it.

Layout (OpenStack's ``openstack/latest`` tree, which CloudStack's own config drives also carry;
nothing else — no vendor or network data, which CloudStack configures by other means):

* ``openstack/latest/meta_data.json`` — ``uuid`` (cloud-init's instance id), ``name``,
  ``hostname``, ``launch_index``; always present, because cloud-init ignores a drive without it;
* ``openstack/latest/user_data`` — the user data, byte for byte (only when there is some);
* ``cmdline`` and ``cloudstack/cmdline`` — the boot arguments line (``key=value ...``) that system
  VMs otherwise read from KVP (only when there are some): at the root, where a guest script finds
  it with no knowledge of the layout, and under ``cloudstack/``, beside CloudStack's own files.

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
# Every timestamp in the image: fixed, so that equal content gives equal bytes.
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
# Sectors 0-15 are the system area; then the primary and Joliet descriptors and the terminator.
_PRIMARY_AT, _JOLIET_AT, _TERMINATOR_AT, _FIRST_FREE = 16, 17, 18, 19
_JOLIET_MAX_NAME = 64
_JOLIET_FORBIDDEN = set("*/:;?\\")
_D_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def config_drive_files(spec: VmSpec) -> dict[str, bytes]:
    """The files of ``spec``'s config drive (empty when it has neither boot args nor user data)."""
    if not spec.boot_args and not spec.user_data:
        return {}
    meta = {"uuid": spec.uuid or spec.name, "name": spec.name, "hostname": spec.name, "launch_index": 0}
    files = {"openstack/latest/meta_data.json": json.dumps(meta, sort_keys=True).encode("utf-8")}
    if spec.user_data:
        files["openstack/latest/user_data"] = spec.user_data.encode("utf-8")
    if spec.boot_args:
        line = spec.boot_args.encode("utf-8") + b"\n"
        files["cmdline"] = line
        files["cloudstack/cmdline"] = line
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


def _sectors(size: int) -> int:
    return -(-size // SECTOR)


def _record_date(when: dt.datetime) -> bytes:
    return bytes([when.year - 1900, when.month, when.day, when.hour, when.minute, when.second, 0])


def _volume_date(when: dt.datetime) -> bytes:
    return when.strftime("%Y%m%d%H%M%S00").encode("ascii") + b"\x00"


@attrs.define(eq=False)
class _Folder:
    """One directory of the image (shared by both hierarchies); hashed by identity."""

    name: str
    parent: _Folder | None
    folders: dict[str, _Folder] = attrs.field(factory=dict)
    files: dict[str, bytes] = attrs.field(factory=dict)


@attrs.define(eq=False)
class _Tree:
    """One directory hierarchy over the folders: the primary (8.3 names) or the Joliet one.

    The two name the same entries differently, so each has its own order: path tables list
    directories by level, then parent number, then identifier (ISO 9660 6.9.1), and a reader
    that looks directories up in the path table (Windows does) must find them where they are.
    """

    joliet: bool
    idents: dict[_Folder, dict[str, bytes]]  # folder -> entry name -> identifier
    order: list[_Folder]
    number: dict[_Folder, int]
    size: dict[_Folder, int] = attrs.field(factory=dict)
    extent: dict[_Folder, int] = attrs.field(factory=dict)


def _primary_names(names: list[str], is_dir: bool) -> dict[str, bytes]:
    """ISO 9660 level 1 names (upper case, 8.3, ``;1`` on files), unique within a folder."""
    result: dict[str, bytes] = {}
    used: set[bytes] = set()
    for name in sorted(names):
        stem, _dot, ext = name.upper().rpartition(".") if not is_dir and "." in name else (name.upper(), "", "")
        stem = "".join(c if c in _D_CHARACTERS else "_" for c in stem)[:8] or "_"
        ext = "".join(c if c in _D_CHARACTERS else "_" for c in ext)[:3]
        for n in range(10**6):
            base = stem if n == 0 else f"{stem[: 8 - len(str(n)) - 1]}_{n}"
            candidate = base + (f".{ext}" if ext else "") + ("" if is_dir else (";1" if ext else ".;1"))
            encoded = candidate.encode("ascii")
            if encoded not in used:
                used.add(encoded)
                result[name] = encoded
                break
    return result


def _check_joliet_name(name: str) -> None:
    # Joliet names are UCS-2, at most 64 units, without these separators: refuse rather than
    # truncate or replace, which could merge two names or lose the one a guest looks for.
    if len(name) > _JOLIET_MAX_NAME:
        raise ValueError(f"a config drive name is longer than {_JOLIET_MAX_NAME} characters: {name[:20]!r}...")
    if any(c in _JOLIET_FORBIDDEN or ord(c) < 0x20 or ord(c) > 0xFFFF for c in name) or name in (".", ".."):
        raise ValueError(f"a config drive name has a character Joliet cannot hold: {name!r}")


def _joliet_name(name: str, is_dir: bool) -> bytes:
    return (name + ("" if is_dir else ";1")).encode("utf-16-be")


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
    """Directory records in sectors: a record never straddles a sector boundary (ISO 9660 6.8.1.1)."""
    out = bytearray()
    for record in records:
        room = SECTOR - len(out) % SECTOR
        if len(record) > room:
            out += b"\x00" * room
        out += record
    out += b"\x00" * (-len(out) % SECTOR)
    return bytes(out)


def _folders(files: Mapping[str, bytes]) -> _Folder:
    root = _Folder(name="", parent=None)
    for path, data in sorted(files.items()):
        parts = path.split("/")
        if not all(parts):
            raise ValueError(f"a config drive path has an empty component: {path!r}")
        for part in parts:
            _check_joliet_name(part)
        folder = root
        for part in parts[:-1]:
            if part in folder.files:
                raise ValueError(f"{part!r} is both a file and a folder in the config drive")
            folder = folder.folders.setdefault(part, _Folder(name=part, parent=folder))
        if parts[-1] in folder.folders:
            raise ValueError(f"{parts[-1]!r} is both a file and a folder in the config drive")
        folder.files[parts[-1]] = bytes(data)
    return root


def _tree(root: _Folder, joliet: bool) -> _Tree:
    idents: dict[_Folder, dict[str, bytes]] = {}
    order = [root]
    for folder in order:  # breadth first: the list grows as it is walked
        if joliet:
            names = {n: _joliet_name(n, True) for n in folder.folders}
            names.update({n: _joliet_name(n, False) for n in folder.files})
        else:
            names = {**_primary_names(list(folder.folders), True), **_primary_names(list(folder.files), False)}
        idents[folder] = names
        order.extend(sorted(folder.folders.values(), key=lambda child: names[child.name]))
    return _Tree(joliet=joliet, idents=idents, order=order, number={f: n for n, f in enumerate(order, start=1)})


def _records(tree: _Tree, folder: _Folder, file_extents: Mapping[tuple[_Folder, str], int], when: dt.datetime) -> bytes:
    parent = folder.parent or folder
    records = [
        _dir_record(b"\x00", tree.extent.get(folder, 0), tree.size.get(folder, 0), True, when),
        _dir_record(b"\x01", tree.extent.get(parent, 0), tree.size.get(parent, 0), True, when),
    ]
    entries: list[tuple[bytes, bytes]] = []
    for name, child in folder.folders.items():
        ident = tree.idents[folder][name]
        entries.append((ident, _dir_record(ident, tree.extent.get(child, 0), tree.size.get(child, 0), True, when)))
    for name, data in folder.files.items():
        ident = tree.idents[folder][name]
        # An empty file has no extent (0), as mkisofs writes it.
        entries.append((ident, _dir_record(ident, file_extents.get((folder, name), 0), len(data), False, when)))
    # Records are sorted by identifier (ISO 9660 9.3).
    records.extend(record for _ident, record in sorted(entries))
    return _pack_records(records)


def _path_table(tree: _Tree, big_endian: bool) -> bytes:
    out = bytearray()
    for folder in tree.order:
        ident = b"\x00" if folder.parent is None else tree.idents[folder.parent][folder.name]
        out += bytes([len(ident), 0])
        out += struct.pack(">I" if big_endian else "<I", tree.extent.get(folder, 0))
        out += struct.pack(">H" if big_endian else "<H", tree.number[folder.parent or folder])
        out += ident + (b"\x00" if len(ident) % 2 else b"")
    return bytes(out)


def _descriptor(
    tree: _Tree, *, label: str, total: int, tables: tuple[int, int], root: _Folder, when: dt.datetime
) -> bytes:
    joliet = tree.joliet

    def text(value: str, width: int) -> bytes:
        if joliet:
            return (value[: width // 2].encode("utf-16-be") + " ".encode("utf-16-be") * width)[:width]
        return value[:width].encode("ascii", "replace").ljust(width, b" ")

    descriptor = bytearray(SECTOR)
    descriptor[0] = 2 if joliet else 1
    descriptor[1:7] = b"CD001\x01"
    descriptor[8:40] = text("", 32)
    # The label as given (lower case, with a dash): cloud-init and cloudbase-init match
    # "config-2" exactly, as OpenStack's genisoimage -V writes it.
    descriptor[40:72] = text(label, 32)
    descriptor[80:88] = _both32(total)
    if joliet:
        descriptor[88:91] = b"%/E"  # UCS-2 level 3
    descriptor[120:124] = _both16(1)
    descriptor[124:128] = _both16(1)
    descriptor[128:132] = _both16(SECTOR)
    descriptor[132:140] = _both32(len(_path_table(tree, False)))
    descriptor[140:144] = struct.pack("<I", tables[0])
    descriptor[148:152] = struct.pack(">I", tables[1])
    descriptor[156:190] = _dir_record(b"\x00", tree.extent[root], tree.size[root], True, when)
    for start, width in ((190, 128), (318, 128), (446, 128)):
        descriptor[start : start + width] = text("", width)
    descriptor[574:702] = text("CSHYPERV", 128)
    for start in (702, 739, 776):
        descriptor[start : start + 37] = text("", 37)
    descriptor[813:830] = _volume_date(when)
    descriptor[830:847] = _volume_date(when)
    descriptor[847:864] = b"0" * 16 + b"\x00"  # no expiry
    descriptor[864:881] = _volume_date(when)
    descriptor[881] = 1
    return bytes(descriptor)


def build_iso(files: Mapping[str, bytes], *, label: str, when: dt.datetime = _EPOCH) -> bytes:
    """An ISO 9660 image (with Joliet) holding ``files`` (``/``-separated paths -> contents).

    Raises ValueError for a name Joliet cannot hold (over 64 characters, ``*/:;?\\``, control
    characters) or a path that is both a file and a folder.
    """
    root = _folders(files)
    trees = (_tree(root, joliet=False), _tree(root, joliet=True))
    # Directory sizes do not depend on where anything is placed: measure, then lay out.
    for tree in trees:
        for folder in tree.order:
            tree.size[folder] = len(_records(tree, folder, {}, when))

    sector = _FIRST_FREE
    tables: dict[bool, tuple[int, int]] = {}
    for tree in trees:
        table_sectors = _sectors(len(_path_table(tree, False)))
        tables[tree.joliet] = (sector, sector + table_sectors)
        sector += 2 * table_sectors
    for tree in trees:
        for folder in tree.order:
            tree.extent[folder] = sector
            sector += tree.size[folder] // SECTOR
    # File contents are stored once; both hierarchies point at them.
    file_extents: dict[tuple[_Folder, str], int] = {}
    contents: list[tuple[int, bytes]] = []
    for folder in trees[0].order:
        for name in sorted(folder.files):
            data = folder.files[name]
            if data:
                file_extents[(folder, name)] = sector
                contents.append((sector, data))
                sector += _sectors(len(data))
    total = sector

    image = bytearray(total * SECTOR)

    def put(at: int, data: bytes) -> None:
        image[at * SECTOR : at * SECTOR + len(data)] = data

    for tree in trees:
        little, big = tables[tree.joliet]
        put(little, _path_table(tree, False))
        put(big, _path_table(tree, True))
        for folder in tree.order:
            put(tree.extent[folder], _records(tree, folder, file_extents, when))
        put(
            _JOLIET_AT if tree.joliet else _PRIMARY_AT,
            _descriptor(tree, label=label, total=total, tables=tables[tree.joliet], root=root, when=when),
        )
    for at, data in contents:
        put(at, data)
    terminator = bytearray(SECTOR)
    terminator[0] = 255
    terminator[1:7] = b"CD001\x01"
    put(_TERMINATOR_AT, bytes(terminator))
    return bytes(image)
