"""A minimal, real hypervisor plug-in: VMs in memory, with stats and checkpoints.

It shows the whole contract in ~150 lines: host facts, lifecycle, the bulk state report,
idempotency (repeated creates, absent stops), errors from cshyperv's tree, deadlines, two
optional capabilities declared honestly, and what the factory returns: the hypervisor plus the
storage access the agent uses (here every share and drive maps into one local directory). Run it
through the conformance kit (no pytest needed):

    python examples/plugin_minimal.py

Register it for `cshyperv agent serve --hypervisor memory` with an entry point in your package
(``pip install -e .`` of a package whose pyproject.toml says)::

    [project.entry-points."cshyperv.hypervisors"]
    memory = "plugin_minimal:create"

then ``cshyperv agent serve --hypervisor memory --set storage_root=/srv/memory-plugin``.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import attrs

from cshyperv import deadline
from cshyperv.errors import CheckpointNotFoundError, VmAlreadyExistsError, VmNotFoundError
from cshyperv.hypervisor import (
    Capability,
    Checkpoint,
    HostInfo,
    HostStats,
    LocalTreeStorageAccess,
    Plugin,
    VmInfo,
    VmSpec,
    VmState,
    VmStats,
)


class MemoryHypervisor:
    """Every VM lives in a dict guarded by one lock; nothing survives the process."""

    name = "memory"
    capabilities = frozenset({Capability.STATS, Capability.CHECKPOINTS})

    def __init__(self, host: str = "memory-host") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._vms: dict[str, tuple[VmSpec, VmInfo]] = {}
        self._checkpoints: dict[str, list[tuple[Checkpoint, VmInfo]]] = {}

    # -- core ----------------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        return HostInfo(
            name=self._host, cpus=8, cpu_sockets=1, cpu_mhz=2000, memory_bytes=32 * 1024**3, hypervisor_version="1.0"
        )

    def list_vms(self) -> Sequence[VmInfo]:
        deadline.check("list_vms")
        with self._lock:
            return [info for _, info in self._vms.values()]

    def get_vm(self, name: str) -> VmInfo | None:
        with self._lock:
            entry = self._vms.get(name)
            return None if entry is None else entry[1]

    def create_vm(self, spec: VmSpec) -> VmInfo:
        deadline.check("create_vm")
        with self._lock:
            existing = self._vms.get(spec.name)
            if existing is not None:
                if existing[0] != spec:
                    raise VmAlreadyExistsError(spec.name)
                return existing[1]
            info = VmInfo(
                name=spec.name,
                state=VmState.OFF,
                uuid=str(uuid.uuid4()),
                cpus=spec.cpus,
                memory_bytes=spec.memory_bytes,
            )
            self._vms[spec.name] = (spec, info)
            return info

    def _set(self, name: str, **changes: object) -> VmInfo:
        with self._lock:
            if name not in self._vms:
                raise VmNotFoundError(name)
            spec, info = self._vms[name]
            info = attrs.evolve(info, **changes)  # type: ignore[arg-type]
            self._vms[name] = (spec, info)
            return info

    def start_vm(self, name: str) -> VmInfo:
        return self._set(name, state=VmState.RUNNING)

    def stop_vm(self, name: str, *, force: bool = False) -> None:
        if self.get_vm(name) is not None:
            self._set(name, state=VmState.OFF)

    def reboot_vm(self, name: str) -> None:
        self._set(name, state=VmState.RUNNING)

    def destroy_vm(self, name: str, *, delete_disks: bool = False) -> None:
        with self._lock:
            self._vms.pop(name, None)
            self._checkpoints.pop(name, None)

    def close(self) -> None:
        pass

    # -- STATS ---------------------------------------------------------------------------------

    def vm_stats(self, names: Sequence[str]) -> Mapping[str, VmStats]:
        return {
            info.name: VmStats(cpu_percent=1.0 if info.state is VmState.RUNNING else 0.0, cpus=info.cpus)
            for info in (self.get_vm(n) for n in names)
            if info is not None
        }

    def host_stats(self) -> HostStats:
        return HostStats(cpu_percent=5.0, memory_total_bytes=32 * 1024**3, memory_free_bytes=16 * 1024**3)

    # -- CHECKPOINTS -------------------------------------------------------------------------

    def create_checkpoint(
        self, vm: str, name: str, *, description: str | None = None, with_memory: bool = False
    ) -> Checkpoint:
        info = self.get_vm(vm)
        if info is None:
            raise VmNotFoundError(vm)
        with self._lock:
            chain = self._checkpoints.setdefault(vm, [])
            for checkpoint, _ in chain:
                if checkpoint.name == name:
                    return checkpoint
            checkpoint = Checkpoint(
                name=name,
                vm=vm,
                created=datetime.now(timezone.utc).isoformat(),
                parent=chain[-1][0].name if chain else None,
                description=description,
                with_memory=with_memory,
            )
            chain.append((checkpoint, info))
            return checkpoint

    def list_checkpoints(self, vm: str) -> Sequence[Checkpoint]:
        if self.get_vm(vm) is None:
            raise VmNotFoundError(vm)
        with self._lock:
            return [c for c, _ in self._checkpoints.get(vm, [])]

    def revert_checkpoint(self, vm: str, name: str) -> VmInfo:
        with self._lock:
            saved = next((info for c, info in self._checkpoints.get(vm, []) if c.name == name), None)
        if saved is None:
            raise CheckpointNotFoundError(vm, name)
        return self._set(vm, state=VmState.OFF, cpus=saved.cpus, memory_bytes=saved.memory_bytes)

    def delete_checkpoint(self, vm: str, name: str) -> None:
        with self._lock:
            chain = self._checkpoints.get(vm, [])
            self._checkpoints[vm] = [(c, i) for c, i in chain if c.name != name]


def create(config: Mapping[str, str]) -> Plugin:
    """Plug-in factory: ``host`` names the host; ``storage_root`` is the directory standing in for
    the host's shares and drives (a new temporary directory when not given)."""
    root = config.get("storage_root") or tempfile.mkdtemp(prefix="memory-plugin-")
    return Plugin(MemoryHypervisor(config.get("host", "memory-host")), storage=LocalTreeStorageAccess(root))


def main() -> int:
    from cshyperv.testing import conformance as kit

    return 0 if kit.run(create({})) else 1


if __name__ == "__main__":
    sys.exit(main())
