"""A self-signed certificate for the agent, made on first run and reused afterwards.

CloudStack's HypervDirectConnectResource trusts any certificate and checks no host name, so a
self-signed one is enough to get TLS on the wire; operators who want more give their own
certificate and key (``--cert`` / ``--key``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ensure_self_signed"]

CERT_NAME = "agent-cert.pem"
KEY_NAME = "agent-key.pem"


def ensure_self_signed(directory: str | Path, hostnames: Sequence[str] = ()) -> tuple[Path, Path]:
    """``(certfile, keyfile)`` in ``directory``: existing ones are reused, else an EC P-256 pair is
    made (valid ten years, SAN = the host's name, localhost, 127.0.0.1 and ``hostnames``). The key
    file is written with mode 0600."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if cert_path.is_file() and key_path.is_file():
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
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
