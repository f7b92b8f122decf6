"""What a console command will need, begun before the command's own imports.

``cshyperv storage cp`` on an SMB location spends its first ~0.1 s importing the CLI and then
loading libsmbclient (~20 ms of dynamic linking); Samba's own smbclient is moving bytes by then.
Reading the arguments before click does, this starts loading the library on a thread (the
dynamic linker runs without the GIL, beside the imports) and, when the copy streams enough to
use it, the second stream's worker process, which loads its own interpreter and library
meanwhile (:func:`cshyperv.storage.prestart_smb_streams`).

It is only a guess from the words on the command line: a wrong one costs an idle process that
ends with this one, never a different result. Click still parses and checks everything.
"""

from __future__ import annotations

import os

__all__ = ["warm_up"]

_SMB_PREFIXES = ("cifs://", "smb://", "\\\\", "//")
_STREAMING = ("cp", "install-template")
_ONE_PIECE = 2 * 1024 * 1024  # a copy this small moves as one piece: a second stream is unused


def _is_smb(location: str) -> bool:
    return location.lower().startswith(_SMB_PREFIXES)


def warm_up(argv: list[str]) -> None:
    """Begin loading libsmbclient (and a worker) if ``argv`` is a streaming ``storage`` command
    with an SMB location. Never raises: the command itself reports any problem."""
    if len(argv) < 4 or argv[1] != "storage" or argv[2] not in _STREAMING:
        return
    try:
        locations = [word for word in argv[3:] if not word.startswith("-")]
        smb = [word for word in locations if _is_smb(word)]
        if not smb:
            return
        worker = True
        if argv[2] == "cp" and len(locations) == 2:
            source, target = locations
            if _is_smb(source) and _is_smb(target):
                worker = False  # both on SMB: usually one server, which copies the bytes itself
            elif not _is_smb(source) and "://" not in source:
                with_size = os.stat(source).st_size if os.path.isfile(source) else 0
                worker = with_size > _ONE_PIECE
        from cshyperv.storage import prestart_smb_streams

        prestart_smb_streams(worker=worker)
    except Exception:  # a hint only: the command reports real problems itself
        return
