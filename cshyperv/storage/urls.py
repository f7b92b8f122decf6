"""Storage locations: ``cifs://``, ``smb://``, ``nfs://``, ``file://`` URLs and UNC paths.

CloudStack writes SMB credentials into the URL query, form-encoded
(``cifs://10.1.1.1/secondary?user=administrator&password=1pass%40word1&domain=LAB``); Gson may have
escaped ``=`` and ``&`` on the way (decoded JSON already has them back). :class:`StorageURL` parses
all of these into one value whose ``repr``/``str`` never show the password; :meth:`StorageURL.unc`
gives the Windows path a Hyper-V host uses for the same place.
"""

from __future__ import annotations

import urllib.parse
from typing import Final

import attrs

from cshyperv._redact import REDACTED
from cshyperv.errors import StorageURLError

__all__ = ["DEFAULT_PORTS", "StorageURL", "StorageURLError"]

DEFAULT_PORTS: Final = {"cifs": 445, "smb": 445, "nfs": 2049}
_SCHEMES: Final = ("cifs", "smb", "nfs", "file")


def _hidden(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


@attrs.frozen(kw_only=True)
class StorageURL:
    """A parsed storage location.

    ``share`` is the SMB share (first path segment) or the NFS export path; ``path`` is the rest,
    with ``/`` separators and no leading slash. ``scheme`` is ``cifs`` (for both cifs:// and smb://
    and UNC paths), ``nfs`` or ``file``.
    """

    scheme: str
    host: str
    port: int | None = None
    share: str = ""
    path: str = ""
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=_hidden)
    domain: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> StorageURL:
        """Parse a cifs/smb/nfs/file URL or a UNC path (``\\\\host\\share\\dir``)."""
        if text.startswith("\\\\"):
            return cls._parse_unc(text)
        try:
            parts = urllib.parse.urlsplit(text)
        except ValueError:
            raise StorageURLError("not a valid storage URL") from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise StorageURLError(f"unsupported storage URL scheme {scheme!r} (expected cifs, smb, nfs or file)")
        if scheme == "smb":
            scheme = "cifs"
        try:
            port = parts.port
        except ValueError:
            raise StorageURLError("storage URL has an invalid port") from None
        host = parts.hostname or ""
        if scheme != "file" and not host:
            raise StorageURLError(f"{scheme} URL needs a host ({scheme}://host/path)")
        raw_path = urllib.parse.unquote(parts.path)
        user = urllib.parse.unquote(parts.username) if parts.username else None
        password = urllib.parse.unquote(parts.password) if parts.password else None
        domain = None
        options: list[tuple[str, str]] = []
        # CloudStack form-encodes the password (URLEncoder: space -> '+'), so parse_qsl is right.
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            lowered = key.lower()
            if lowered in ("user", "username"):
                user = value
            elif lowered in ("password", "pass"):
                password = value
            elif lowered == "domain":
                domain = value
            else:
                options.append((key, value))
        if user and "\\" in user and domain is None:
            domain, user = user.split("\\", 1)
        if scheme == "cifs":
            segments = [s for s in raw_path.split("/") if s]
            if not segments:
                raise StorageURLError("cifs URL needs a share (cifs://host/share/path)")
            share, rest = segments[0], "/".join(segments[1:])
        elif scheme == "nfs":
            share, rest = "/" + raw_path.strip("/"), ""
        else:
            share, rest = "", raw_path
        return cls(
            scheme=scheme,
            host=host,
            port=port,
            share=share,
            path=rest,
            user=user,
            password=password,
            domain=domain,
            options=tuple(options),
        )

    @classmethod
    def _parse_unc(cls, text: str) -> StorageURL:
        segments = [s for s in text[2:].replace("/", "\\").split("\\") if s]
        if len(segments) < 2:
            raise StorageURLError("UNC path needs a host and a share (\\\\host\\share)")
        return cls(scheme="cifs", host=segments[0], share=segments[1], path="/".join(segments[2:]))

    # -- conversions ---------------------------------------------------------------------------

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    def unc(self) -> str:
        """``\\\\host\\share\\path`` (cifs only): how Windows names the same place."""
        if self.scheme != "cifs":
            raise StorageURLError(f"a {self.scheme} location has no UNC form")
        parts = [self.host, self.share, *[p for p in self.path.split("/") if p]]
        return "\\\\" + "\\".join(parts)

    def child(self, relative: str) -> StorageURL:
        """The location ``relative`` (``/``- or ``\\``-separated) below this one."""
        extra = [p for p in relative.replace("\\", "/").split("/") if p]
        if any(p == ".." for p in extra):
            raise StorageURLError("'..' is not allowed in a storage path")
        if self.scheme == "nfs":
            return attrs.evolve(self, share=self.share, path="/".join([*filter(None, self.path.split("/")), *extra]))
        return attrs.evolve(self, path="/".join([*filter(None, self.path.split("/")), *extra]))

    def to_url(self, *, with_credentials: bool = False) -> str:
        """The URL form; credentials go in the query (CloudStack's form) only if asked for."""
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        if self.scheme == "nfs":
            path = self.share.rstrip("/") + ("/" + self.path if self.path else "")
        elif self.scheme == "cifs":
            path = "/" + self.share + ("/" + self.path if self.path else "")
        else:
            path = self.path
        query: list[tuple[str, str]] = []
        if with_credentials:
            if self.user is not None:
                query.append(("user", self.user))
            if self.password is not None:
                query.append(("password", self.password))
            if self.domain is not None:
                query.append(("domain", self.domain))
        query.extend(self.options)
        encoded = urllib.parse.urlencode(query) if query else ""
        return urllib.parse.urlunsplit((self.scheme, netloc, urllib.parse.quote(path), encoded, ""))

    def without_credentials(self) -> StorageURL:
        return attrs.evolve(self, user=None, password=None, domain=None)

    def __str__(self) -> str:
        text = self.to_url()
        if self.password is not None:
            sep = "&" if "?" in text else "?"
            text += f"{sep}password={REDACTED}"
        return text
