"""The simulator plug-in: Hyper-V's semantics, no Windows.

* VM names are unique (across every simulated host sharing the database, as CloudStack instance
  names are); states are Hyper-V's (Off, Running, Paused, Saved, ...).
* Starting a VM needs free host memory (running VMs' memory is accounted); a VM's root disk built
  from a template needs the template volume to exist.
* Checkpoints save and restore the VM's configuration and disks; migration moves a VM to another
  simulated host in the same database.
* ``latency_s`` delays every operation (honouring the deadline); ``faults`` makes chosen operations
  fail, to test the layers above.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from cshyperv import deadline
from cshyperv.errors import (
    CheckpointNotFoundError,
    HypervisorConnectionError,
    HypervisorError,
    InsufficientResourcesError,
    InvalidVmStateError,
    OperationTimeoutError,
    VmAlreadyExistsError,
    VmNotFoundError,
    VolumeNotFoundError,
)
from cshyperv.hypervisor import (
    Capability,
    Checkpoint,
    ConsoleInfo,
    DeviceCounters,
    DiskKind,
    DiskSpec,
    HostInfo,
    HostStats,
    LocalTreeStorageAccess,
    NicInfo,
    NicSpec,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
    VolumeInfo,
)
from cshyperv.simulator._files import SimulatedFiles
from cshyperv.simulator._store import Store
from cshyperv.simulator.seed import files_root_for

__all__ = ["HostProfile", "SimulatorHypervisor", "create"]

GiB = 1024**3

FaultHook = Callable[[str, tuple[Any, ...]], "BaseException | None"]
"""Called before each operation with its name and arguments; an exception returned is raised."""


@attrs.frozen(kw_only=True)
class HostProfile:
    """The simulated host's hardware, written to the database the first time a host is seen."""

    name: str = "sim-host-1"
    cpus: int = 16
    sockets: int = 2
    mhz: int = 2400
    memory_bytes: int = 128 * GiB
    ip: str = "127.0.0.1"
    local_capacity_bytes: int = 2048 * GiB


def _no_fault(operation: str, args: tuple[Any, ...]) -> BaseException | None:
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _fingerprint(spec: VmSpec) -> str:
    """What must match for a second create of the same name to be "the same VM", as one string.

    Boot arguments, user data, notes, details and the CloudStack uuid may legitimately differ
    between retries (CloudStack regenerates some), so they are left out. Written field by field:
    a generic unstructure of the spec costs more than the whole wire decode of a StartCommand.
    """
    disks = [
        [d.kind.value, d.path, d.template_path, d.size_bytes, d.differencing, d.position, d.controller, d.volume_id]
        for d in spec.disks
    ]
    nics = [[n.mac, n.switch, n.vlan, n.device_id, n.rate_mbps, n.network_name] for n in spec.nics]
    return json.dumps(
        [
            spec.name,
            spec.cpus,
            spec.cpu_speed_mhz,
            spec.memory_bytes,
            spec.min_memory_bytes,
            spec.generation,
            spec.secure_boot,
            spec.secure_boot_template,
            spec.vm_path,
            disks,
            nics,
        ]
    )


# A VM with its disks and NICs, as get_vm returns it. The subqueries' rows carry their sort keys
# (SQLite does not promise the order an aggregate sees rows in), and Python sorts them as _info's
# ORDER BY clauses do.
_VM_SNAPSHOT = """
SELECT v.name, v.uuid, v.host, v.state, v.generation, v.cpus, v.memory_bytes, v.notes,
    (SELECT json_group_array(json_array(position, path, kind)) FROM vm_disks WHERE vm = v.name) AS disks,
    (SELECT json_group_array(json_array(device_id, mac, switch, vlan)) FROM vm_nics WHERE vm = v.name) AS nics
FROM vms AS v WHERE v.name = ?
"""


# Looked up once: an enum's value lookup and .value are attribute walks, on every get_vm.
_ISO = DiskKind.ISO.value
_STATES = {state.value: state for state in VmState}


def _vm_info(row: Any, disks: Sequence[Any], nics: Sequence[Any], state: VmState | None = None) -> VmInfo:
    """A VmInfo from a vms row, its (path, kind) disks and (mac, switch, vlan) NICs, in order."""
    return VmInfo(
        name=row["name"],
        state=state or _STATES.get(row["state"]) or VmState(row["state"]),
        uuid=row["uuid"],
        cpus=row["cpus"],
        memory_bytes=row["memory_bytes"],
        generation=row["generation"],
        disks=tuple(path for path, kind in disks if kind != _ISO),
        isos=tuple(path for path, kind in disks if kind == _ISO),
        nics=tuple(NicInfo(mac=mac, switch=switch, vlan=vlan) for mac, switch, vlan in nics),
        notes=row["notes"],
        host=row["host"],
    )


_QUICK_READS: frozenset[str] = frozenset({"get_vm"})
_SEEN_VMS = 1024  # VMs whose last get_vm a thread keeps; beyond that it starts afresh
_CAPABILITIES: frozenset[Capability] = frozenset(Capability) - {Capability.DEPLOY}


class SimulatorHypervisor:
    """A :class:`~cshyperv.hypervisor.Hypervisor` whose state lives in an SQLite file."""

    name = "simulator"

    def __init__(
        self,
        state_path: str | Path,
        *,
        host: HostProfile | None = None,
        latency_s: float = 0.0,
        faults: FaultHook | Mapping[str, BaseException] | None = None,
        files_root: str | Path | None = None,
    ) -> None:
        self.store = Store(state_path)
        # Shares and local disks of every simulated host live under one directory tree, next to
        # the database unless told otherwise; see files_for().
        self.files = SimulatedFiles(files_root if files_root is not None else files_root_for(state_path))
        self.host = host or HostProfile()
        self.latency_s = latency_s
        # Per thread (each thread reads through its own connection): name -> (the store's
        # version token when read, what get_vm answered then).
        self._seen = threading.local()
        if faults is None:
            self._faults: FaultHook = _no_fault
        elif callable(faults):
            self._faults = faults
        else:
            table = dict(faults)
            self._faults = lambda op, args: table.get(op)
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO hosts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.host.name,
                    self.host.cpus,
                    self.host.sockets,
                    self.host.mhz,
                    self.host.memory_bytes,
                    self.host.ip,
                    self.host.local_capacity_bytes,
                ),
            )

    @property
    def capabilities(self) -> frozenset[Capability]:
        # Everything but DEPLOY: create-then-start is the operations layer's job for plug-ins
        # whose host has no single-round-trip deploy. One set, not one per call: it is asked
        # on every deploy.
        return _CAPABILITIES

    @property
    def quick_reads(self) -> frozenset[str]:
        """``get_vm`` is one statement on a local database in WAL mode, where a reader does not
        wait for writers: quick enough for an event loop (the agent answers a StartCommand
        retry for a running VM without a thread hop). With a latency or a fault hook set, an
        operation may sleep or block, so nothing is quick then."""
        if self.latency_s or self._faults is not _no_fault:
            return frozenset()
        return _QUICK_READS

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own connection."""

    def storage_access(self) -> LocalTreeStorageAccess:
        """Storage access for the resource layer: every share and disk in the simulator's tree."""
        return LocalTreeStorageAccess(self.files.root)

    def add_disk(self, path: str, size_bytes: int) -> None:
        """Make a disk or ISO file exist at the Windows ``path`` (UNC or drive path) on the
        simulated host, with virtual size ``size_bytes``: how a template or an ISO is seeded.

        Idempotent: a file already there with that size is left alone; one of another size is
        replaced. ``size_bytes`` must be positive; ``..`` in the path is refused.
        """
        if size_bytes <= 0:
            raise ValueError("size_bytes must be positive")
        existing = self.files.disk(path)
        if existing is not None and existing.size_bytes == size_bytes:
            return
        self.files.create_disk(path, size_bytes)

    # -- plumbing --------------------------------------------------------------------------------

    def _enter(self, operation: str, *args: Any) -> None:
        deadline.check(operation)
        if self.latency_s:
            left = deadline.remaining()
            if left is not None and left < self.latency_s:
                time.sleep(left)
                raise OperationTimeoutError(f"{operation} did not finish before its deadline")
            time.sleep(self.latency_s)
        fault = self._faults(operation, args)
        if fault is not None:
            raise fault

    def _vm_row(self, db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = db.execute("SELECT * FROM vms WHERE name = ?", (name,)).fetchone()
        return row

    def _own_vm(self, db: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = self._vm_row(db, name)
        if row is None or row["host"] != self.host.name:
            raise VmNotFoundError(name)
        return row

    def _info(self, db: sqlite3.Connection, row: sqlite3.Row, state: VmState | None = None) -> VmInfo:
        disks = db.execute("SELECT path, kind FROM vm_disks WHERE vm = ? ORDER BY position, path", (row["name"],))
        nics = db.execute("SELECT mac, switch, vlan FROM vm_nics WHERE vm = ? ORDER BY device_id, mac", (row["name"],))
        return _vm_info(row, disks.fetchall(), nics.fetchall(), state)

    def _free_memory(self, db: sqlite3.Connection, *, excluding: str | None = None) -> int:
        used = db.execute(
            "SELECT COALESCE(SUM(memory_bytes), 0) FROM vms WHERE host = ? AND state IN (?, ?, ?) AND name != ?",
            (self.host.name, VmState.RUNNING.value, VmState.PAUSED.value, VmState.STARTING.value, excluding or ""),
        ).fetchone()[0]
        return int(self.host.memory_bytes - used)

    def _add_disk(self, db: sqlite3.Connection, vm: str, disk: DiskSpec) -> None:
        if disk.kind is not DiskKind.ISO and self.files.disk(disk.path) is None:
            if disk.template_path is None:
                raise VolumeNotFoundError(disk.path)
            if disk.differencing:
                self.files.create_disk(disk.path, disk.size_bytes or 0, parent=disk.template_path)
            else:
                self.files.clone_disk(disk.template_path, disk.path, size_bytes=disk.size_bytes)
        db.execute(
            "INSERT OR IGNORE INTO vm_disks VALUES (?, ?, ?, ?)", (vm, disk.path, disk.kind.value, disk.position)
        )

    # -- Hypervisor --------------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        self._enter("host_info")
        used = self.files.used_bytes()
        capacity = self.host.local_capacity_bytes
        return HostInfo(
            name=self.host.name,
            cpus=self.host.cpus,
            cpu_sockets=self.host.sockets,
            cpu_mhz=self.host.mhz,
            memory_bytes=self.host.memory_bytes,
            hypervisor_version="10.0",
            os_version="Windows Server 2022 Datacenter (simulated)",
            private_ip=self.host.ip,
            private_netmask="255.255.255.0",
            private_mac="00:15:5d:00:00:01",
            gateway=None,
            default_vhd_path="C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks",
            default_vm_path="C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
            local_storage_path="C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks",
            local_storage_capacity_bytes=capacity,
            local_storage_available_bytes=max(0, capacity - int(used)),
            dom0_min_memory_bytes=2 * GiB,
        )

    def list_vms(self) -> Sequence[VmInfo]:
        self._enter("list_vms")
        with self.store.transaction(write=False) as db:
            rows = db.execute("SELECT * FROM vms WHERE host = ? ORDER BY name", (self.host.name,)).fetchall()
            return [self._info(db, row) for row in rows]

    def get_vm(self, name: str) -> VmInfo | None:
        self._enter("get_vm", name)
        # One statement, so SQLite runs it as its own read transaction (one consistent snapshot)
        # without BEGIN and COMMIT: the row, its disks and its NICs in one round trip instead of
        # five. This is the read every idempotent StartCommand retry makes.
        # What this thread read last time is answered again while no commit (of any thread or
        # process) came since: the version token costs one PRAGMA, the snapshot a query with two
        # subqueries and the VmInfo's construction. VmInfo is frozen, so sharing it is safe.
        seen: dict[str, tuple[tuple[int, int], VmInfo | None]] | None = getattr(self._seen, "vms", None)
        if seen is None:
            seen = self._seen.vms = {}
        version = self.store.version()
        kept = seen.get(name)
        if kept is not None and kept[0] == version:
            return kept[1]
        row = self.store.connection().execute(_VM_SNAPSHOT, (name,)).fetchone()
        info = None
        if row is not None and row["host"] == self.host.name:
            disks = [(path, kind) for _, path, kind in sorted(json.loads(row["disks"]))]
            nics = [(mac, switch, vlan) for _, mac, switch, vlan in sorted(json.loads(row["nics"]))]
            info = _vm_info(row, disks, nics)
        if len(seen) >= _SEEN_VMS:
            seen.clear()
        seen[name] = (version, info)
        return info

    def create_vm(self, spec: VmSpec) -> VmInfo:
        self._enter("create_vm", spec)
        with self.store.transaction() as db:
            row = self._vm_row(db, spec.name)
            if row is not None:
                if row["host"] != self.host.name:
                    raise VmAlreadyExistsError(spec.name, f"it exists on host {row['host']!r}")
                if not self._same_spec(row, spec):
                    raise VmAlreadyExistsError(spec.name, "a VM with this name exists with a different configuration")
                return self._info(db, row)
            if spec.memory_bytes > self.host.memory_bytes or spec.cpus > self.host.cpus:
                raise InsufficientResourcesError(f"VM {spec.name!r} needs more CPUs or memory than the host has")
            db.execute(
                "INSERT INTO vms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    spec.name,
                    str(uuidlib.uuid4()).upper(),
                    self.host.name,
                    VmState.OFF.value,
                    spec.generation,
                    spec.cpus,
                    spec.memory_bytes,
                    _fingerprint(spec),
                    spec.notes,
                    time.time(),
                ),
            )
            # Any failure below rolls the transaction back; disks made so far are removed too, so a
            # failed create leaves nothing behind.
            made: list[str] = []
            try:
                for disk in spec.disks:
                    existed = self.files.disk(disk.path) is not None
                    self._add_disk(db, spec.name, disk)
                    if not existed and disk.kind is not DiskKind.ISO:
                        made.append(disk.path)
            except BaseException:
                for path in made:
                    self.files.delete(path)
                raise
            for nic in spec.nics:
                db.execute(
                    "INSERT OR REPLACE INTO vm_nics VALUES (?, ?, ?, ?, ?)",
                    (spec.name, nic.mac.lower(), nic.switch, nic.vlan, nic.device_id),
                )
            created = self._vm_row(db, spec.name)
            assert created is not None
            return self._info(db, created)

    @staticmethod
    def _same_spec(row: sqlite3.Row, spec: VmSpec) -> bool:
        return bool(row["spec"] == _fingerprint(spec))

    def start_vm(self, name: str) -> VmInfo:
        self._enter("start_vm", name)
        with self.store.transaction() as db:
            row = self._own_vm(db, name)
            state = VmState(row["state"])
            if state is not VmState.RUNNING:
                if state is VmState.OFF and self._free_memory(db, excluding=name) < row["memory_bytes"]:
                    raise InsufficientResourcesError(f"not enough free memory on the host to start {name!r}")
                db.execute(
                    "UPDATE vms SET state = ?, started = ? WHERE name = ?", (VmState.RUNNING.value, time.time(), name)
                )
            # Only the state changed: no need to read the row again.
            return self._info(db, row, state=VmState.RUNNING)

    def stop_vm(self, name: str, *, force: bool = False) -> None:
        self._enter("stop_vm", name, force)
        with self.store.transaction() as db:
            row = self._vm_row(db, name)
            if row is None or row["host"] != self.host.name:
                return
            db.execute("UPDATE vms SET state = ?, started = NULL WHERE name = ?", (VmState.OFF.value, name))

    def reboot_vm(self, name: str) -> None:
        self._enter("reboot_vm", name)
        with self.store.transaction() as db:
            row = self._own_vm(db, name)
            if VmState(row["state"]) is not VmState.RUNNING:
                raise InvalidVmStateError(f"VM {name!r} is {row['state']}, not Running")
            db.execute("UPDATE vms SET started = ? WHERE name = ?", (time.time(), name))

    def destroy_vm(self, name: str, *, delete_disks: bool = False) -> None:
        self._enter("destroy_vm", name, delete_disks)
        with self.store.transaction() as db:
            row = self._vm_row(db, name)
            if row is None or row["host"] != self.host.name:
                return
            if delete_disks:
                rows = db.execute("SELECT path FROM vm_disks WHERE vm = ? AND kind != ?", (name, DiskKind.ISO.value))
                for (path,) in rows.fetchall():
                    self.files.delete(path)
            for table in ("vm_disks", "vm_nics", "checkpoints"):
                db.execute(f"DELETE FROM {table} WHERE vm = ?", (name,))
            db.execute("DELETE FROM vms WHERE name = ?", (name,))

    # -- SupportsStats -----------------------------------------------------------------------------

    def vm_stats(self, names: Sequence[str]) -> Mapping[str, VmStats]:
        self._enter("vm_stats", tuple(names))
        out: dict[str, VmStats] = {}
        now = time.time()
        with self.store.transaction(write=False) as db:
            for name in names:
                row = self._vm_row(db, name)
                if row is None or row["host"] != self.host.name:
                    continue
                running = row["state"] == VmState.RUNNING.value and row["started"] is not None
                uptime = max(0.0, now - row["started"]) if running else 0.0
                # Deterministic per VM, growing with uptime: enough for CloudStack's graphs and tests.
                seed = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
                disk_rows = db.execute(
                    "SELECT path FROM vm_disks WHERE vm = ? AND kind != ? ORDER BY position", (name, DiskKind.ISO.value)
                ).fetchall()
                nic_rows = db.execute("SELECT mac FROM vm_nics WHERE vm = ? ORDER BY device_id", (name,)).fetchall()
                # Synthetic per-device counters that add up to the VM's totals.
                disks = tuple(
                    DeviceCounters(
                        device=row["path"],
                        read_ios=int(uptime * 10) // len(disk_rows),
                        write_ios=int(uptime * 5) // len(disk_rows),
                        read_bytes=int(uptime * 40960) // len(disk_rows),
                        write_bytes=int(uptime * 20480) // len(disk_rows),
                    )
                    for row in disk_rows
                )
                nics = tuple(
                    DeviceCounters(
                        device=row["mac"],
                        read_bytes=int(uptime * 1500) // len(nic_rows),
                        write_bytes=int(uptime * 900) // len(nic_rows),
                    )
                    for row in nic_rows
                )
                out[name] = VmStats(
                    disks=disks,
                    nics=nics,
                    cpu_percent=(seed % 400) / 10.0 if running else 0.0,
                    cpus=row["cpus"],
                    memory_bytes=row["memory_bytes"],
                    memory_free_bytes=row["memory_bytes"] // 3 if running else 0,
                    memory_target_bytes=row["memory_bytes"],
                    disk_read_ios=int(uptime * 10),
                    disk_write_ios=int(uptime * 5),
                    disk_read_bytes=int(uptime * 40960),
                    disk_write_bytes=int(uptime * 20480),
                    network_read_bytes=int(uptime * 1500),
                    network_write_bytes=int(uptime * 900),
                )
        return out

    def host_stats(self) -> HostStats:
        self._enter("host_stats")
        with self.store.transaction(write=False) as db:
            free = self._free_memory(db)
            running = db.execute(
                "SELECT COUNT(*) FROM vms WHERE host = ? AND state = ?", (self.host.name, VmState.RUNNING.value)
            ).fetchone()[0]
        return HostStats(
            cpu_percent=min(100.0, 2.0 + 3.5 * running),
            memory_total_bytes=self.host.memory_bytes,
            memory_free_bytes=free,
        )

    # -- SupportsDisks / SupportsVolumes -----------------------------------------------------------

    def attach_disk(self, vm: str, disk: DiskSpec) -> None:
        self._enter("attach_disk", vm, disk)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            self._add_disk(db, vm, disk)

    def detach_disk(self, vm: str, path: str) -> None:
        self._enter("detach_disk", vm, path)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            db.execute("DELETE FROM vm_disks WHERE vm = ? AND path = ?", (vm, path))

    def create_volume(self, path: str, size_bytes: int, *, parent: str | None = None) -> VolumeInfo:
        self._enter("create_volume", path, size_bytes, parent)
        existing = self.files.disk(path)
        return existing if existing is not None else self.files.create_disk(path, size_bytes, parent=parent)

    def clone_volume(self, source: str, path: str, *, size_bytes: int | None = None) -> VolumeInfo:
        self._enter("clone_volume", source, path, size_bytes)
        return self.files.clone_disk(source, path, size_bytes=size_bytes)

    def resize_volume(self, path: str, size_bytes: int) -> VolumeInfo:
        self._enter("resize_volume", path, size_bytes)
        return self.files.resize_disk(path, size_bytes)

    def delete_volume(self, path: str) -> None:
        self._enter("delete_volume", path)
        self.files.delete(path)

    def volume_info(self, path: str) -> VolumeInfo | None:
        self._enter("volume_info", path)
        return self.files.disk(path)

    # -- SupportsNics ------------------------------------------------------------------------------

    def add_nic(self, vm: str, nic: NicSpec) -> None:
        self._enter("add_nic", vm, nic)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            db.execute(
                "INSERT OR IGNORE INTO vm_nics VALUES (?, ?, ?, ?, ?)",
                (vm, nic.mac.lower(), nic.switch, nic.vlan, nic.device_id),
            )

    def remove_nic(self, vm: str, mac: str) -> None:
        self._enter("remove_nic", vm, mac)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            db.execute("DELETE FROM vm_nics WHERE vm = ? AND mac = ?", (vm, mac.lower()))

    def set_nic_vlan(self, vm: str, mac: str, vlan: int | None) -> None:
        self._enter("set_nic_vlan", vm, mac, vlan)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            cur = db.execute("UPDATE vm_nics SET vlan = ? WHERE vm = ? AND mac = ?", (vlan, vm, mac.lower()))
            if cur.rowcount == 0:
                raise HypervisorError(f"VM {vm!r} has no network adapter with MAC {mac}")

    # -- SupportsCheckpoints -----------------------------------------------------------------------

    def _checkpoint(self, row: sqlite3.Row) -> Checkpoint:
        return Checkpoint(
            name=row["name"],
            vm=row["vm"],
            created=row["created"],
            parent=row["parent"],
            description=row["description"],
            with_memory=bool(row["with_memory"]),
        )

    def create_checkpoint(
        self, vm: str, name: str, *, description: str | None = None, with_memory: bool = False
    ) -> Checkpoint:
        self._enter("create_checkpoint", vm, name)
        with self.store.transaction() as db:
            row = self._own_vm(db, vm)
            existing = db.execute("SELECT * FROM checkpoints WHERE vm = ? AND name = ?", (vm, name)).fetchone()
            if existing is not None:
                return self._checkpoint(existing)
            last = db.execute(
                "SELECT name, seq FROM checkpoints WHERE vm = ? ORDER BY seq DESC LIMIT 1", (vm,)
            ).fetchone()
            saved = {
                "state": row["state"],
                "cpus": row["cpus"],
                "memory_bytes": row["memory_bytes"],
                "disks": [dict(d) for d in db.execute("SELECT path, kind, position FROM vm_disks WHERE vm = ?", (vm,))],
                "nics": [
                    dict(n) for n in db.execute("SELECT mac, switch, vlan, device_id FROM vm_nics WHERE vm = ?", (vm,))
                ],
            }
            db.execute(
                "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    vm,
                    name,
                    (last["seq"] + 1) if last else 1,
                    _now(),
                    last["name"] if last else None,
                    description,
                    int(with_memory),
                    json.dumps(saved),
                ),
            )
            created = db.execute("SELECT * FROM checkpoints WHERE vm = ? AND name = ?", (vm, name)).fetchone()
            return self._checkpoint(created)

    def list_checkpoints(self, vm: str) -> Sequence[Checkpoint]:
        self._enter("list_checkpoints", vm)
        with self.store.transaction(write=False) as db:
            self._own_vm(db, vm)
            rows = db.execute("SELECT * FROM checkpoints WHERE vm = ? ORDER BY seq", (vm,)).fetchall()
            return [self._checkpoint(r) for r in rows]

    def revert_checkpoint(self, vm: str, name: str) -> VmInfo:
        self._enter("revert_checkpoint", vm, name)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            row = db.execute("SELECT * FROM checkpoints WHERE vm = ? AND name = ?", (vm, name)).fetchone()
            if row is None:
                raise CheckpointNotFoundError(vm, name)
            saved = json.loads(row["saved"])
            # Hyper-V brings a standard checkpoint back powered off; one with memory comes back running.
            state = VmState.RUNNING if row["with_memory"] and saved["state"] == VmState.RUNNING.value else VmState.OFF
            db.execute(
                "UPDATE vms SET state = ?, cpus = ?, memory_bytes = ?, started = ? WHERE name = ?",
                (
                    state.value,
                    saved["cpus"],
                    saved["memory_bytes"],
                    time.time() if state is VmState.RUNNING else None,
                    vm,
                ),
            )
            db.execute("DELETE FROM vm_disks WHERE vm = ?", (vm,))
            db.executemany(
                "INSERT INTO vm_disks VALUES (?, ?, ?, ?)",
                [(vm, d["path"], d["kind"], d["position"]) for d in saved["disks"]],
            )
            db.execute("DELETE FROM vm_nics WHERE vm = ?", (vm,))
            db.executemany(
                "INSERT INTO vm_nics VALUES (?, ?, ?, ?, ?)",
                [(vm, n["mac"], n["switch"], n["vlan"], n["device_id"]) for n in saved["nics"]],
            )
            return self._info(db, self._own_vm(db, vm))

    def restore_checkpoint(self, vm: str, name: str) -> VmInfo:
        """revert_checkpoint, then start_vm if the VM ran before and the revert left it off (what
        checkpoint.ps1 does with ``restart``); faults injected for either apply."""
        self._enter("restore_checkpoint", vm, name)
        before = self.get_vm(vm)
        after = self.revert_checkpoint(vm, name)
        if before is not None and before.state is VmState.RUNNING and after.state is not VmState.RUNNING:
            after = self.start_vm(vm)
        return after

    def delete_checkpoint(self, vm: str, name: str) -> None:
        self._enter("delete_checkpoint", vm, name)
        with self.store.transaction() as db:
            self._own_vm(db, vm)
            row = db.execute("SELECT parent FROM checkpoints WHERE vm = ? AND name = ?", (vm, name)).fetchone()
            if row is None:
                return
            # Children of the deleted checkpoint now hang off its parent, as after a Hyper-V merge.
            db.execute("UPDATE checkpoints SET parent = ? WHERE vm = ? AND parent = ?", (row["parent"], vm, name))
            db.execute("DELETE FROM checkpoints WHERE vm = ? AND name = ?", (vm, name))

    # -- SupportsMigration -------------------------------------------------------------------------

    def migrate_vm(self, vm: str, destination: str, *, storage_path: str | None = None) -> None:
        self._enter("migrate_vm", vm, destination, storage_path)
        with self.store.transaction() as db:
            row = self._own_vm(db, vm)
            target = db.execute("SELECT * FROM hosts WHERE name = ? OR ip = ?", (destination, destination)).fetchone()
            if target is None:
                raise HypervisorConnectionError(f"migration destination {destination!r} is not a known simulated host")
            if target["name"] == self.host.name:
                return
            if storage_path is not None:
                disks = db.execute("SELECT path FROM vm_disks WHERE vm = ? AND kind != ?", (vm, DiskKind.ISO.value))
                for (path,) in disks.fetchall():
                    new = storage_path.rstrip("\\/") + "\\" + path.replace("/", "\\").rsplit("\\", 1)[-1]
                    self.files.move(path, new)
                    db.execute("UPDATE vm_disks SET path = ? WHERE vm = ? AND path = ?", (new, vm, path))
            db.execute("UPDATE vms SET host = ? WHERE name = ?", (target["name"], row["name"]))

    # -- SupportsConsole / SupportsScaling / SupportsSuspend -------------------------------------

    def console_info(self, vm: str) -> ConsoleInfo:
        self._enter("console_info", vm)
        info = self.get_vm(vm)
        if info is None:
            raise VmNotFoundError(vm)
        return ConsoleInfo(protocol="rdp-vmconnect", host=self.host.ip, port=2179, vm_id=info.uuid)

    def scale_vm(self, vm: str, *, cpus: int | None = None, memory_bytes: int | None = None) -> VmInfo:
        self._enter("scale_vm", vm, cpus, memory_bytes)
        with self.store.transaction() as db:
            row = self._own_vm(db, vm)
            running = row["state"] != VmState.OFF.value
            if cpus is not None and cpus != row["cpus"]:
                if running:
                    raise InvalidVmStateError("Hyper-V changes a VM's processor count only while it is off")
                db.execute("UPDATE vms SET cpus = ? WHERE name = ?", (cpus, vm))
            if memory_bytes is not None and memory_bytes != row["memory_bytes"]:
                if running and memory_bytes - row["memory_bytes"] > self._free_memory(db):
                    raise InsufficientResourcesError(f"not enough free memory on the host to grow {vm!r}")
                db.execute("UPDATE vms SET memory_bytes = ? WHERE name = ?", (memory_bytes, vm))
            return self._info(db, self._own_vm(db, vm))

    def suspend_vm(self, vm: str) -> VmInfo:
        return self._transition(vm, "suspend_vm", VmState.RUNNING, VmState.PAUSED)

    def resume_vm(self, vm: str) -> VmInfo:
        return self._transition(vm, "resume_vm", VmState.PAUSED, VmState.RUNNING)

    def _transition(self, vm: str, operation: str, source: VmState, target: VmState) -> VmInfo:
        self._enter(operation, vm)
        with self.store.transaction() as db:
            row = self._own_vm(db, vm)
            state = VmState(row["state"])
            if state is not target:
                if state is not source:
                    raise InvalidVmStateError(f"VM {vm!r} is {state.value}, not {source.value}")
                db.execute("UPDATE vms SET state = ? WHERE name = ?", (target.value, vm))
            return self._info(db, self._own_vm(db, vm))


def create(config: Mapping[str, str]) -> SimulatorHypervisor:
    """Plug-in factory (entry point ``simulator``).

    Settings: ``state`` (database path; default ``./cshyperv-simulator.db``), ``host`` (host
    name), ``cpus``, ``memory_gb``, ``ip``, ``latency_ms``.
    """
    defaults = HostProfile()
    profile = HostProfile(
        name=config.get("host", defaults.name),
        cpus=int(config.get("cpus", defaults.cpus)),
        memory_bytes=int(float(config.get("memory_gb", defaults.memory_bytes / GiB)) * GiB),
        ip=config.get("ip", defaults.ip),
    )
    return SimulatorHypervisor(
        config.get("state", "cshyperv-simulator.db"),
        host=profile,
        latency_s=float(config.get("latency_ms", 0)) / 1000.0,
    )
