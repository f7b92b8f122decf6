"""Every exception cshyperv raises, in one tree.

::

    CSHyperVError
    ├── WireError (ValueError)              bad JSON shape; ``.path`` is a JSON path like $.vm.nics[0].mac
    │   ├── MalformedJSONError              not JSON, not UTF-8, or nested too deeply
    │   ├── UnknownTypeError (LookupError)  an FQCN the registry does not know
    │   ├── WireTypeError (TypeError)       a member of the wrong JSON type
    │   ├── MissingMemberError              a member the command cannot do without
    │   ├── ValueOutOfRangeError            a number outside its Java type's range
    │   ├── EncodeError                     an object that cannot be written as CloudStack JSON
    │   ├── LimitExceededError              a document beyond its budget (size, count, nesting)
    │   └── SchemaValidationError           a document that breaks its published JSON Schema
    ├── HypervisorError                     a hypervisor plug-in could not do what was asked
    │   ├── VmNotFoundError (LookupError)
    │   ├── VmAlreadyExistsError            a different VM already holds the name
    │   ├── CheckpointNotFoundError (LookupError)
    │   ├── VolumeNotFoundError (FileNotFoundError)  a disk file the operation needs is absent
    │   ├── InsufficientResourcesError      not enough memory, CPU or disk on the host
    │   ├── HypervisorAccessDeniedError (PermissionError)
    │   ├── OperationTimeoutError (TimeoutError)
    │   ├── JobFailedError                  a host job failed; ``.code`` is the host's error code
    │   ├── InvalidVmStateError             the VM is in a state that does not allow the operation
    │   ├── NicNotFoundError (LookupError)  the VM has no network adapter with that MAC address
    │   ├── MigrationPrerequisiteError      the host cannot live-migrate; ``.missing`` says what it lacks
    │   ├── UnsupportedOperationError       the plug-in does not declare this capability
    │   ├── HypervisorConnectionError (ConnectionError)  the host cannot be reached
    │   ├── PowerShellError                 a Hyper-V script failed; ``.record`` is its structured error
    │   ├── TranslationError                a CloudStack transfer object the hypervisor cannot act on
    │   └── PluginFailedError               a plug-in raised something outside this tree (a bug);
    │                                       ``.cause_type`` names it, the traceback is logged once
    ├── PluginError (LookupError)           no such hypervisor plug-in, or it failed to load
    ├── ConfigError (ValueError)            an agent config file is wrong; names the file, host and key
    ├── ExtensionError                      a bad Extensions payload or host configuration
    ├── StorageURLError (ValueError)        a storage location (URL, UNC path) that cannot be parsed
    └── StorageError (OSError)              a storage location could not be used; ``.errno`` set
        ├── StorageAuthenticationError (PermissionError)  the server refused the credentials
        ├── StorageConnectionError (ConnectionError)      the server is unreachable or went away
        └── TemplateError                   a template could not be installed
            ├── DownloadError (ConnectionError)   the source could not be fetched
            └── ChecksumMismatchError       the bytes do not match the expected checksum

Storage adaptors raise plain ``OSError`` subclasses for file-level failures (``FileNotFoundError``,
``FileExistsError``, ``PermissionError``...) with ``filename`` set to the location without
credentials, and the ``StorageError`` branch for what is about the server or the transfer.

Messages name the JSON path and the expected type, never the offending value: command bodies carry
passwords (``cifs://...?password=``), VNC passwords and user data.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CSHyperVError",
    "CheckpointNotFoundError",
    "ChecksumMismatchError",
    "ConfigError",
    "DownloadError",
    "EncodeError",
    "ExtensionError",
    "HypervisorAccessDeniedError",
    "HypervisorConnectionError",
    "HypervisorError",
    "InsufficientResourcesError",
    "InvalidVmStateError",
    "JobFailedError",
    "LimitExceededError",
    "MalformedJSONError",
    "MigrationPrerequisiteError",
    "MissingMemberError",
    "NicNotFoundError",
    "OperationTimeoutError",
    "PluginError",
    "PluginFailedError",
    "PowerShellError",
    "SchemaValidationError",
    "StorageAuthenticationError",
    "StorageConnectionError",
    "StorageError",
    "StorageURLError",
    "TemplateError",
    "TranslationError",
    "UnknownTypeError",
    "UnsupportedOperationError",
    "ValueOutOfRangeError",
    "VmAlreadyExistsError",
    "VmNotFoundError",
    "VolumeNotFoundError",
    "WireError",
    "WireTypeError",
]


class CSHyperVError(Exception):
    """Root of every exception raised by cshyperv."""


PathPart = str | int


def format_path(parts: Sequence[PathPart]) -> str:
    """Render path parts (outermost first) as a JSON path: ``$.vm.nics[0]['odd key']``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.isidentifier():
            out.append("." + part)
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)


class WireError(CSHyperVError, ValueError):
    """A JSON document that does not have the shape CloudStack gives it.

    ``reason`` says what is wrong without quoting the value; ``path`` says where. Parts are added
    innermost first while the error travels up the decoder (:meth:`at`).
    """

    def __init__(self, reason: str, path: Sequence[PathPart] = ()) -> None:
        self.reason = reason
        self._reversed_parts: list[PathPart] = list(reversed(path))
        super().__init__(reason)

    def at(self, part: PathPart) -> WireError:
        """Prefix the path with an enclosing member name or array index; returns self."""
        self._reversed_parts.append(part)
        return self

    @property
    def path_parts(self) -> tuple[PathPart, ...]:
        return tuple(reversed(self._reversed_parts))

    @property
    def path(self) -> str:
        return format_path(self.path_parts)

    def __str__(self) -> str:
        return f"{self.reason} at {self.path}"


class MalformedJSONError(WireError):
    """The bytes are not a JSON document we can read (syntax, encoding, nesting depth)."""


class UnknownTypeError(WireError, LookupError):
    """A Java class name (FQCN) that the registry in use does not know."""

    def __init__(self, fqcn: str, path: Sequence[PathPart] = ()) -> None:
        # A class name is not a secret, but it is attacker-chosen: cap it.
        shown = fqcn if len(fqcn) <= 200 else fqcn[:200] + "..."
        super().__init__(f"unknown type {shown!r}", path)
        self.fqcn = fqcn


class WireTypeError(WireError, TypeError):
    """A member holds a JSON value of the wrong type."""


class MissingMemberError(WireError):
    """A member that the object cannot do without is absent or null."""


class ValueOutOfRangeError(WireError):
    """A number that does not fit the Java type of its field."""


class EncodeError(WireError):
    """An object that cannot be written as CloudStack JSON (wrong attribute type, NaN, ...)."""


class LimitExceededError(WireError):
    """A document that is bigger than its budget (:class:`cshyperv.wire.DecodeLimits`) allows:
    too many elements in an array, members in an object, values in all, or nested too deeply."""


class SchemaValidationError(WireError):
    """A document that breaks its JSON Schema. ``problems`` lists every (JSON path, reason)."""

    def __init__(self, problems: Sequence[tuple[Sequence[PathPart], str]]) -> None:
        self._problems = [(list(parts), reason) for parts, reason in problems] or [([], "invalid")]
        first_parts, first_reason = self._problems[0]
        super().__init__(first_reason, first_parts)

    def at(self, part: PathPart) -> WireError:
        super().at(part)
        for parts, _ in self._problems:
            parts.insert(0, part)
        return self

    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(format_path(parts), reason) for parts, reason in self._problems]

    def __str__(self) -> str:
        lines = [f"{reason} at {path}" for path, reason in self.problems]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        return lines[0] + more


# -- hypervisor ----------------------------------------------------------------------------------


class HypervisorError(CSHyperVError):
    """A hypervisor plug-in could not do what was asked. ``str()`` is safe to show to CloudStack."""


class VmNotFoundError(HypervisorError, LookupError):
    """No VM of that name exists on the host."""

    def __init__(self, name: str) -> None:
        super().__init__(f"VM {name!r} not found")
        self.name = name


class VmAlreadyExistsError(HypervisorError):
    """A VM of that name exists and does not match what was asked for."""

    def __init__(self, name: str, why: str = "a different VM already has this name") -> None:
        super().__init__(f"VM {name!r}: {why}")
        self.name = name


class CheckpointNotFoundError(HypervisorError, LookupError):
    """The VM has no checkpoint (snapshot) of that name."""

    def __init__(self, vm: str, checkpoint: str) -> None:
        super().__init__(f"VM {vm!r} has no checkpoint {checkpoint!r}")
        self.vm = vm
        self.checkpoint = checkpoint


class VolumeNotFoundError(HypervisorError, FileNotFoundError):
    """A disk file (template, volume) the operation needs does not exist."""

    def __init__(self, path: str, *, what: str = "disk") -> None:
        from cshyperv._redact import redact_url_credentials

        shown = redact_url_credentials(path)
        super().__init__(f"{what} {shown!r} not found")
        self.path = path
        self.errno = errno.ENOENT

    def __str__(self) -> str:
        return str(self.args[0])


class InsufficientResourcesError(HypervisorError):
    """The host lacks the memory, CPU or disk space the operation needs."""


class HypervisorAccessDeniedError(HypervisorError, PermissionError):
    """The credentials in use may not do this on the host."""


class OperationTimeoutError(HypervisorError, TimeoutError):
    """The operation did not finish before its deadline (it may still complete on the host)."""


class JobFailedError(HypervisorError):
    """A host job failed; ``code`` is the host's own error code when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} (error code {code})")
        self.code = code


class InvalidVmStateError(HypervisorError):
    """The VM's current state does not allow the operation (e.g. reverting a running VM)."""


class NicNotFoundError(HypervisorError, LookupError):
    """The VM has no network adapter with that MAC address."""

    def __init__(self, vm: str, mac: str) -> None:
        super().__init__(f"VM {vm!r} has no network adapter with MAC {mac!r}")
        self.vm = vm
        self.mac = mac


class MigrationPrerequisiteError(HypervisorError):
    """The source host cannot live-migrate the VM as set up; nothing was moved.

    ``missing`` names what is missing (for Hyper-V: ``VirtualMachineMigrationEnabled``,
    ``PartOfDomain`` or ``CredentialDelegation``, see docs/hyperv.md); the message says how to fix it.
    """

    def __init__(self, missing: str, how: str) -> None:
        super().__init__(f"live migration is not possible: {missing} is missing: {how}")
        self.missing = missing


class UnsupportedOperationError(HypervisorError):
    """The plug-in does not offer this operation (its capabilities say so)."""


class HypervisorConnectionError(HypervisorError, ConnectionError):
    """The host could not be reached or dropped the connection."""


class PowerShellError(HypervisorError):
    """A script failed on the Hyper-V host; ``record`` is its structured error (category, fully
    qualified error id, target, message), never parsed as prose. The message is redacted."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        from cshyperv._redact import redact_text

        self.record = dict(record)
        super().__init__(redact_text(str(record.get("message") or "PowerShell error")))


class TranslationError(HypervisorError):
    """A CloudStack transfer object that cannot be turned into something the hypervisor can do."""


class PluginFailedError(HypervisorError):
    """A plug-in raised an exception outside this tree: a bug in the plug-in.

    The message names only the exception's class (its text may hold anything); the operations
    layer logs the original with its traceback, once, and chains it as ``__cause__``.
    """

    def __init__(self, plugin: str, operation: str, cause: BaseException) -> None:
        self.plugin = plugin
        self.operation = operation
        self.cause_type = type(cause).__name__
        super().__init__(f"internal error ({self.cause_type}) in the {plugin} plug-in's {operation}")


class PluginError(CSHyperVError, LookupError):
    """No hypervisor plug-in of that name, or it failed to load or to start."""


class ConfigError(CSHyperVError, ValueError):
    """An agent configuration file is wrong. ``str()`` names the file, the host and the key.

    ``file``, ``host`` (the ``[[host]]`` entry's name, or None for ``[defaults]``) and ``key`` (a
    dotted key such as ``settings.password_file``) are set where they are known. The message never
    holds a setting's value: values may be secrets.
    """

    def __init__(self, message: str, *, file: str | None = None, host: str | None = None, key: str | None = None):
        self.file, self.host, self.key = file, host, key
        where = [part for part in (file, f"host {host!r}" if host else None, f"key {key!r}" if key else None) if part]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ExtensionError(CSHyperVError):
    """A payload or configuration problem of the Extensions executable; the message is shown to
    the CloudStack admin."""


class StorageURLError(CSHyperVError, ValueError):
    """A storage location that cannot be parsed. The message never quotes the URL."""


# -- storage -------------------------------------------------------------------------------------


class StorageError(CSHyperVError, OSError):
    """A storage location could not be used. ``str()`` names the location without credentials."""

    def __init__(self, message: str, *, code: int = errno.EIO, location: str | None = None) -> None:
        from cshyperv._redact import redact_url_credentials

        shown = redact_url_credentials(location) if location else None
        text = f"{message}: {shown}" if shown else message
        super().__init__(code, text)
        self.location = shown

    def __str__(self) -> str:
        return str(self.strerror)


class StorageAuthenticationError(StorageError, PermissionError):
    """The storage server refused the credentials (wrong user, password or domain)."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message, code=errno.EACCES, location=location)


class StorageConnectionError(StorageError, ConnectionError):
    """The storage server could not be reached, or dropped the connection mid-operation."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message, code=errno.ECONNRESET, location=location)


class TemplateError(StorageError):
    """A template could not be installed; nothing was left under its final name."""


class DownloadError(TemplateError, ConnectionError):
    """The template's source could not be fetched (HTTP status, connection, truncated body)."""


class ChecksumMismatchError(TemplateError):
    """The downloaded bytes do not match the checksum CloudStack gave."""

    def __init__(self, algorithm: str, *, location: str | None = None) -> None:
        super().__init__(f"{algorithm} checksum does not match", code=errno.EIO, location=location)
        self.algorithm = algorithm
