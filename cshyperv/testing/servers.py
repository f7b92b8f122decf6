"""Real Samba and NFS servers on 127.0.0.1, started and stopped by tests and benchmarks.

Both are the Debian packages (``samba``, ``nfs-ganesha`` + ``nfs-ganesha-vfs``) run from a
private directory at a non-standard port, so no system configuration is touched. They need root
(Samba's passdb needs a Unix account; ganesha serves files as their owners): :func:`skip_reason`
says in one sentence why a server cannot run here, for ``pytest.skip``.

Two behaviours of smbd shape :class:`SambaServer`: in the foreground it exits when stdin reaches
EOF (so it gets a pipe kept open), and on SIGTERM it signals its whole process group (so it gets a
session of its own and is stopped with ``killpg``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import attrs

__all__ = ["NfsServer", "SambaServer", "SambaShare", "free_port", "skip_reason"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def skip_reason(kind: str) -> str | None:
    """Why a ``samba`` or ``nfs`` server cannot be started here, or None if it can."""
    program = {"samba": "smbd", "nfs": "ganesha.nfsd"}[kind]
    package = {"samba": "samba smbclient", "nfs": "nfs-ganesha nfs-ganesha-vfs"}[kind]
    if (
        shutil.which(program) is None
        and not Path(f"/usr/sbin/{program}").exists()
        and not Path(f"/usr/bin/{program}").exists()
    ):
        return f"{program} is not installed (apt-get install {package}; .ci/run does this)"
    if os.geteuid() != 0:
        return f"{program} needs root here (Samba maps users onto Unix accounts; ganesha serves as file owners)"
    return None


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout} s; see {log}")


def _find(program: str) -> str:
    found = shutil.which(program)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin"):
        if Path(folder, program).exists():
            return str(Path(folder, program))
    raise FileNotFoundError(program)


@attrs.frozen
class SambaShare:
    """One share: ``signing`` ("mandatory" or None) and ``encrypt`` ("required" or None).

    SMB2 signs per session, not per share, so Samba's ``server signing`` is a global setting: a
    share asking for ``signing="mandatory"`` makes its whole server require signing (put it on a
    server of its own to keep other shares unsigned). Encryption is per share.
    """

    name: str
    signing: str | None = None
    encrypt: str | None = None


DEFAULT_SHARES = (
    SambaShare("share"),
    # A second ordinary share (server-side copies between shares); signing is the server's to
    # require, see SambaShare.
    SambaShare("signed"),
    SambaShare("sealed", encrypt="required"),
)


class SambaServer:
    """smbd on 127.0.0.1:<port> with the given shares, one user (``username``/``password``).

    ``root`` holds configuration, state and the shares (``root/shares/<name>``); ``url(share)``
    gives the ``cifs://`` URL with the credentials CloudStack-style in the query.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        shares: tuple[SambaShare, ...] = DEFAULT_SHARES,
        username: str = "svc-cloud",
        password: str = "S3cret p@ss&word",
        port: int | None = None,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="cshyperv-samba-"))
        self.shares = shares
        self.username = username
        self.password = password
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def share_path(self, share: str) -> Path:
        return self.root / "shares" / share

    def url(self, share: str = "share", path: str = "", *, credentials: bool = True) -> str:
        import urllib.parse

        base = f"cifs://127.0.0.1:{self.port}/{share}" + (f"/{path.strip('/')}" if path else "")
        if not credentials:
            return base
        return base + "?" + urllib.parse.urlencode({"user": self.username, "password": self.password})

    def _config(self) -> str:
        r = self.root
        lines = [
            "[global]",
            "server role = standalone server",
            f"smb ports = {self.port}",
            "interfaces = 127.0.0.1",
            "bind interfaces only = yes",
            "disable netbios = yes",
            *(f"{key} = {r / key.split()[0]}" for key in ("lock directory", "pid directory", "state directory")),
            f"private dir = {r / 'private'}",
            f"cache directory = {r / 'cache'}",
            f"ncalrpc dir = {r / 'ncalrpc'}",
            f"passdb backend = tdbsam:{r / 'private' / 'passdb.tdb'}",
            f"log file = {r / 'log' / 'log.%m'}",
            "load printers = no",
            "printcap name = /dev/null",
            "disable spoolss = yes",
            "server min protocol = SMB2_10",
            "map to guest = never",
            f"username map = {r / 'users.map'}",
            # Everything is served as root here; unix permissions would only get in the way.
            "create mask = 0644",
        ]
        signing = {share.signing for share in self.shares if share.signing}
        if signing:
            # Global in Samba (ignored with a warning inside a share section).
            lines.append(f"server signing = {sorted(signing)[0]}")
        for share in self.shares:
            lines += [f"[{share.name}]", f"path = {self.share_path(share.name)}", "read only = no"]
            if share.encrypt:
                lines.append(f"smb encrypt = {share.encrypt}")
        return "\n".join(lines) + "\n"

    def start(self) -> SambaServer:
        for sub in ("private", "lock", "pid", "state", "cache", "ncalrpc", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for share in self.shares:
            self.share_path(share.name).mkdir(parents=True, exist_ok=True)
        conf = self.root / "smb.conf"
        conf.write_text(self._config())
        # The SMB name maps onto root, the Unix account that owns everything here.
        (self.root / "users.map").write_text(f"root = {self.username}\n")
        subprocess.run(
            [_find("smbpasswd"), "-c", str(conf), "-a", "-s", "root"],
            input=f"{self.password}\n{self.password}\n".encode(),
            check=True,
            capture_output=True,
        )
        log = self.root / "log" / "smbd.out"
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                [_find("smbd"), "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(self.port, self._process, 10.0, log)
        return self

    def tree_connects(self) -> list[dict[str, str]]:
        """The share connections open now, as smbstatus shows them: ``service``, ``pid``,
        ``encryption`` and ``signing`` (``"-"`` for none, else the algorithm, e.g.
        ``AES-128-GMAC``) — what the server, not the client, says a connection is protected by."""
        result = subprocess.run(
            [_find("smbstatus"), "-s", str(self.root / "smb.conf"), "-S"],
            check=True,
            capture_output=True,
            text=True,
        )
        rows = []
        lines = result.stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("---")), len(lines))
        for line in lines[start + 1 :]:
            fields = line.split()
            if len(fields) >= 5:
                rows.append({"service": fields[0], "pid": fields[1], "encryption": fields[-2], "signing": fields[-1]})
        return rows

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL to its process group), as a crash would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _signal(self, sig: int) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdin is not None:
            process.stdin.close()

    def __enter__(self) -> SambaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class NfsServer:
    """nfs-ganesha serving ``root/export`` as NFSv4 ``/export`` on 127.0.0.1:<port>.

    NFSv4 needs no rpcbind (which would bind every address). ``url(path)`` gives the ``nfs://`` URL;
    keep data below a directory (nfs-rs cannot list an NFSv4 export's root).
    """

    def __init__(self, root: str | Path | None = None, *, port: int | None = None) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="cshyperv-nfs-"))
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def export_path(self) -> Path:
        return self.root / "export"

    def url(self, path: str = "") -> str:
        return f"nfs://127.0.0.1:{self.port}/export" + (f"/{path.strip('/')}" if path else "")

    def _config(self) -> str:
        ports = [free_port() for _ in range(3)]
        return (
            f"NFS_CORE_PARAM {{ NFS_Port = {self.port}; MNT_Port = {ports[0]}; NLM_Port = {ports[1]};"
            f" Rquota_Port = {ports[2]}; Bind_addr = 127.0.0.1; Enable_NLM = false; Enable_RQUOTA = false;"
            " Enable_UDP = false; Protocols = 4; }\n"
            "NFS_KRB5 { Active_krb5 = false; }\n"
            f"NFSV4 {{ Graceless = true; RecoveryBackend = fs; RecoveryRoot = {self.root / 'recov'}; }}\n"
            f"EXPORT {{ Export_Id = 1; Path = {self.export_path}; Pseudo = /export; Access_Type = RW;"
            " Squash = No_Root_Squash; SecType = sys; Protocols = 4; Transports = TCP; FSAL { Name = VFS; } }\n"
            "LOG { Default_Log_Level = EVENT; }\n"
        )

    def start(self) -> NfsServer:
        (self.root / "recov").mkdir(parents=True, exist_ok=True)
        self.export_path.mkdir(parents=True, exist_ok=True)
        conf = self.root / "ganesha.conf"
        conf.write_text(self._config())
        log = self.root / "ganesha.log"
        self._process = subprocess.Popen(
            [_find("ganesha.nfsd"), "-F", "-f", str(conf), "-L", str(log), "-p", str(self.root / "ganesha.pid")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_port(self.port, self._process, 15.0, log)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> NfsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
