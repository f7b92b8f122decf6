"""The agent's TLS: a self-signed certificate made on first run, and the server-side SSL context.

CloudStack's HypervDirectConnectResource trusts any certificate and checks no host name, so a
self-signed one is enough to get TLS on the wire; operators who want more give their own
certificate and key (``--cert`` / ``--key``), and may require a client certificate signed by a CA
of theirs (``--client-ca``) when a TLS proxy holding such a certificate fronts the agent.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import stat
from collections.abc import Sequence
from pathlib import Path

from cshyperv.errors import CSHyperVError

__all__ = ["TLSConfigError", "ensure_private_dir", "ensure_self_signed", "server_context"]

CERT_NAME = "agent-cert.pem"
KEY_NAME = "agent-key.pem"


class TLSConfigError(CSHyperVError):
    """The agent's certificate, key, client CA or state directory cannot be used as they are."""


def ensure_private_dir(directory: str | Path) -> Path:
    """``directory``, created with mode 0700 (and its missing parents) if it does not exist.

    An existing directory is left as it is: its mode is the operator's choice.
    """
    folder = Path(directory)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise TLSConfigError(f"cannot create {path}: {exc.strerror or type(exc).__name__}") from None
        # mkdir's mode is filtered by the umask; 0700 must hold whatever the umask says.
        os.chmod(path, 0o700)
    return folder


def _check_key_mode(key_path: Path, *, allow_group: bool) -> None:
    try:
        mode = key_path.stat().st_mode
    except OSError as exc:
        raise TLSConfigError(f"cannot read the private key {key_path}: {exc.strerror or type(exc).__name__}") from None
    forbidden = 0o007 if allow_group else 0o077
    if mode & forbidden:
        who = "others" if allow_group else "users other than its owner"
        raise TLSConfigError(
            f"the private key {key_path} is open to {who} (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod 600 on it, or delete it to have a new one made"
        )


def ensure_self_signed(directory: str | Path, hostnames: Sequence[str] = ()) -> tuple[Path, Path]:
    """``(certfile, keyfile)`` in ``directory`` (created 0700 if missing).

    An existing pair is reused only if the key is readable by its owner alone: a key that its
    group or others can read raises :class:`TLSConfigError` instead of being used silently. Else
    an EC P-256 pair is made (valid ten years, SAN = the host's name, localhost, 127.0.0.1 and
    ``hostnames``); the key file is created with mode 0600, never through an existing file.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = ensure_private_dir(directory)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if key_path.exists() or key_path.is_symlink():
        _check_key_mode(key_path, allow_group=False)
        if cert_path.is_file():
            return cert_path, key_path

    names = {socket.gethostname(), "localhost", "127.0.0.1", *hostnames}
    alt_names: list[x509.GeneralName] = []
    for name in sorted(n for n in names if n):
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname() or "cshyperv-agent")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # A fresh file (O_EXCL, never following a link), 0600 from its first byte, then renamed into place.
    partial = folder / (KEY_NAME + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    os.replace(partial, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(
    certfile: str | Path, keyfile: str | Path, *, client_ca: str | Path | None = None, own_key: bool = False
) -> ssl.SSLContext:
    """The agent's server-side context: TLS 1.2 or later, HTTP/1.1 by ALPN.

    With ``client_ca`` a client certificate signed by one of its CAs is required (mutual TLS).
    ``own_key`` says the key was made by :func:`ensure_self_signed` (already checked); a key the
    operator gives must not be readable by others (group-readable keys, as in Debian's
    ``ssl-cert`` group, are accepted). Raises :class:`TLSConfigError` naming the file at fault.
    """
    if not own_key:
        _check_key_mode(Path(keyfile), allow_group=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(str(certfile), str(keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"cannot load the certificate {certfile} with the key {keyfile}: {_why(exc)}") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"cannot load the client CA bundle {client_ca}: {_why(exc)}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)[:200]
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__
