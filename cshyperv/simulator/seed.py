"""Seeding a simulated host with the files a real host would already hold: templates and ISOs.

A newcomer trying the Extensions executable or the agent on the simulator needs the template its
payload names (``D:\\Templates\\ubuntu.vhdx``) to exist on the simulated host; on Hyper-V an
operator would have copied it there. :func:`seed_disk` puts a simulated disk (or ISO) at that
Windows path, in the same directory tree a :class:`~cshyperv.simulator.SimulatorHypervisor` on
that state file reads, without touching the database (so no host row is invented).
"""

from __future__ import annotations

import os
from pathlib import Path

from cshyperv.hypervisor import VolumeInfo
from cshyperv.simulator._files import SimulatedFiles

__all__ = ["files_root_for", "seed_disk"]


def files_root_for(state_path: str | os.PathLike[str]) -> Path:
    """The directory tree that stands for the disks and shares of the hosts in ``state_path``."""
    return Path(f"{os.fspath(state_path)}.files")


def seed_disk(state_path: str | os.PathLike[str], windows_path: str, size_bytes: int) -> VolumeInfo:
    """Put a simulated virtual disk of ``size_bytes`` (virtual size) at ``windows_path``.

    ``windows_path`` is a drive path (``D:\\Templates\\t.vhdx``) or a UNC path
    (``\\\\fs\\share\\t.vhdx``). The format follows the extension (``.vhd``, ``.vhdx``; ``.iso``
    for an ISO image). Seeding the same path again replaces the file with one of the new size.
    Raises :class:`~cshyperv.errors.HypervisorError` for a path that is neither a drive nor a UNC
    path, or that holds ``..``; ``ValueError`` for a negative size.
    """
    if size_bytes < 0:
        raise ValueError("a disk size cannot be negative")
    files = SimulatedFiles(files_root_for(state_path))
    return files.create_disk(windows_path, size_bytes)
