"""The CloudStack Extensions orchestrator executable: ``cshyperv-extension <action> <payload> <wait>``.

CloudStack 4.21+ runs one process per VM operation with a JSON payload file and reads ONE JSON
document from stdout (stderr is merged into it). This executable is a drop-in replacement for
``extensions/HyperV/hyperv.py``: same host details, same actions and custom actions, but every
value travels as data through the hypervisor interface (no PowerShell is built here), the payload
(which holds the host password) is deleted as soon as it is read, ``statuses`` works, creates are
idempotent, deletes remove disks, and nothing is ever printed on stderr on success.

Exit codes: 0 success; 1 failure (one JSON line ``{"status": "error", "error": ...}``); 2 usage.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import stat
import sys
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from cshyperv import deadline
from cshyperv._redact import redact_text
from cshyperv.errors import CSHyperVError, ExtensionError, HypervisorError
from cshyperv.hypervisor import DiskKind, DiskSpec, Hypervisor, VmSpec, VmState
from cshyperv.operations import Operations

__all__ = ["ExtensionError", "HostConfig", "main", "render_console_url"]

log = logging.getLogger("cshyperv.extension")

MAX_OUTPUT = 60 * 1024  # Java reads stdout only after exit; more than the pipe buffer deadlocks
MAX_PAYLOAD = 8 * 1024 * 1024  # CloudStack's payloads are a few KiB
DEFAULT_WAIT_S = 1800
DEADLINE_MARGIN_S = 15
VM_ACTIONS = ("prepare", "create", "start", "stop", "reboot", "delete", "status", "getconsole")
CUSTOM_ACTIONS = (
    "createsnapshot",
    "listsnapshots",
    "restoresnapshot",
    "deletesnapshot",
    "suspend",
    "resume",
    "resize",
    "attachiso",
    "detachiso",
)
GiB = 1024**3


def _truthy(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int(value: object, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise ExtensionError(f"{name} must be a whole number") from None


@attrs.frozen(kw_only=True)
class HostConfig:
    """Host details, merged as CloudStack layers them: extension < resourcemap < host."""

    url: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=lambda v: "None" if v is None else "'<redacted>'")
    transport: str = "ntlm"
    verify_tls_certificate: bool = True
    network_switch: str | None = None
    vhd_path: str | None = None
    vm_path: str | None = None
    console_url: str | None = None
    log_file: str | None = None
    details: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> HostConfig:
        external = payload.get("externaldetails") or {}
        merged: dict[str, str] = {}
        for layer in ("extension", "resourcemap", "host"):
            section = external.get(layer) or {}
            if isinstance(section, Mapping):
                merged.update({str(k): str(v) for k, v in section.items() if v is not None})
        if not merged.get("url"):
            raise ExtensionError("the host detail 'url' is missing (add it with addHost externaldetails[0].url=...)")
        return cls(
            url=merged["url"].strip(),
            username=merged.get("username"),
            password=merged.get("password"),
            transport=merged.get("transport", "ntlm").strip().lower() or "ntlm",
            verify_tls_certificate=_truthy(merged.get("verify_tls_certificate"), True),
            # The documentation calls it network_bridge; hyperv.py reads network_switch. Both work.
            network_switch=merged.get("network_switch") or merged.get("network_bridge"),
            vhd_path=merged.get("vhd_path"),
            vm_path=merged.get("vm_path"),
            console_url=merged.get("console_url"),
            log_file=merged.get("log_file"),
            details=merged,
        )


def open_hypervisor(config: HostConfig) -> Hypervisor:
    """The plug-in named by ``url``: ``simulator:///path/state.db[?host=name]`` or a Hyper-V host."""
    if config.url.startswith("simulator:"):
        parsed = urllib.parse.urlsplit(config.url)
        state = urllib.parse.unquote(parsed.path)
        if not state:
            raise ExtensionError("simulator url needs a database path: simulator:///path/to/state.db")
        settings = {"state": state}
        settings.update(dict(urllib.parse.parse_qsl(parsed.query)))
        from cshyperv.simulator import create

        return create(settings)
    from cshyperv.plugins import default_plugins

    # Plug-in settings that may come as host details besides the connection (runner=psrp,
    # config_drive=false, client certificates, CA bundle).
    passed = ("runner", "config_drive", "ca_trust_path", "client_certificate", "client_key")
    settings = {key: str(config.details[key]) for key in passed if config.details.get(key)}
    settings.update(
        {
            "url": config.url,
            "username": config.username or "",
            "password": config.password or "",
            "transport": config.transport,
            "verify_tls_certificate": "true" if config.verify_tls_certificate else "false",
            # One process per operation: its shell is deleted on exit, so commands need no Signal.
            "one_shot": "true",
        }
    )
    return default_plugins().create("hyperv", settings)


# -- payload -> VmSpec ---------------------------------------------------------------------------------


def _vm_details(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    details = payload.get("cloudstack.vm.details")
    if not isinstance(details, Mapping):
        raise ExtensionError("the payload carries no VM (cloudstack.vm.details)")
    return details


def vm_name(payload: Mapping[str, Any]) -> str:
    name = payload.get("virtualmachinename") or (payload.get("cloudstack.vm.details") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ExtensionError("the payload names no VM (virtualmachinename)")
    return name


def build_spec(payload: Mapping[str, Any], config: HostConfig, ops: Operations) -> VmSpec:
    """The VmSpec for a create: the VirtualMachineTO plus the template details of the VM,
    through the same public translation the direct-connect agent uses."""
    from cshyperv.resource import TranslationSettings, vm_spec
    from cshyperv.wire import decode

    vm_template = (payload.get("externaldetails") or {}).get("virtualmachine") or {}
    generation = _int(vm_template.get("generation"), "generation", 1) or 1
    if generation not in (1, 2):
        raise ExtensionError("generation must be 1 or 2")
    vm = decode("com.cloud.agent.api.to.VirtualMachineTO", dict(_vm_details(payload)))
    settings = TranslationSettings(default_switch=config.network_switch, default_generation=generation)
    spec = vm_spec(vm, settings)
    name = spec.name
    # CloudStack puts the default NIC's VLAN in cloudstack.vlan; use it for NICs without a URI.
    fallback_vlan = str(vm_template.get("cloudstack.vlan") or "")
    nics = []
    for nic_to, nic in zip(sorted(vm.nics or (), key=lambda n: n.device_id), spec.nics, strict=False):
        if nic.vlan is None and not nic_to.broadcast_uri and fallback_vlan.isdigit() and nic_to.default_nic:
            nics.append(attrs.evolve(nic, vlan=int(fallback_vlan)))
        else:
            nics.append(nic)

    template_type = str(vm_template.get("template_type") or "template").strip().lower()
    vhd_dir = (config.vhd_path or "").rstrip("\\/")
    if not vhd_dir:
        raise ExtensionError("the host detail 'vhd_path' is missing")
    disks: list[DiskSpec] = []
    if template_type == "iso":
        iso = vm_template.get("iso_path")
        if not iso:
            raise ExtensionError("template_type iso needs iso_path")
        size = (_int(vm_template.get("vhd_size_gb"), "vhd_size_gb", 20) or 20) * GiB
        root = f"{vhd_dir}\\{name}.vhdx"
        ops.create_volume(root, size)
        disks = [DiskSpec(kind=DiskKind.ROOT, path=root), DiskSpec(kind=DiskKind.ISO, path=str(iso), position=1)]
    else:
        template = vm_template.get("template_path")
        if not template:
            raise ExtensionError("template_type template needs template_path")
        extension = str(template).rsplit(".", 1)[-1].lower() if "." in str(template) else "vhdx"
        disks = [
            DiskSpec(
                kind=DiskKind.ROOT,
                path=f"{vhd_dir}\\{name}.{extension}",
                template_path=str(template),
                differencing=str(vm_template.get("disk_mode", "")).lower() == "differencing",
                size_bytes=(_int(vm_template.get("root_disk_size_gb"), "root_disk_size_gb") or 0) * GiB or None,
            )
        ]
    secure_boot = None
    if generation == 2:
        # hyperv.py meant to turn secure boot off for Gen2 and never did; off unless asked for.
        secure_boot = _truthy(vm_template.get("secure_boot"), False)
    return attrs.evolve(
        spec,
        generation=generation,
        secure_boot=secure_boot,
        secure_boot_template=vm_template.get("secure_boot_template") or None,
        disks=tuple(disks),
        nics=tuple(nics),
        vm_path=config.vm_path,
        # The VM's full memory; hyperv.py used minRam (RAM divided by the overcommit ratio).
        memory_bytes=spec.memory_bytes,
    )


# -- actions -----------------------------------------------------------------------------------------


_POWER = {VmState.RUNNING: "poweron", VmState.OFF: "poweroff"}


def _power(state: VmState | None) -> str:
    if state is None:
        return "poweroff"
    return _POWER.get(state, "unknown")


def _param(payload: Mapping[str, Any], name: str) -> str:
    value = (payload.get("parameters") or {}).get(name)
    if value is None or str(value) == "":
        raise ExtensionError(f"the action needs the parameter {name}")
    return str(value)


def act(action: str, payload: Mapping[str, Any], config: HostConfig, hv: Hypervisor) -> dict[str, Any]:
    """Run ``action``; the JSON document to print. Raises on failure.

    Every hypervisor call goes through :class:`~cshyperv.operations.Operations` (the same rules
    as the direct-connect agent: capability gates, deploy with clean-up after a failed start).
    """
    ops = Operations(hv)
    if action == "statuses":
        states = {vm: _power(state) for vm, state in ops.states().items()}
        return {"status": "success", "power_state": states}
    name = vm_name(payload)
    if action == "create":
        # CloudStack retries create: a failed start leaves nothing behind (Operations.deploy).
        ops.deploy(build_spec(payload, config, ops))
        return {"status": "success", "message": f"VM {name} created and started"}
    if action == "start":
        ops.start(name)
        return {"status": "success", "message": f"VM {name} started"}
    if action == "stop":
        ops.stop(name)
        return {"status": "success", "message": f"VM {name} stopped"}
    if action == "reboot":
        ops.reboot(name)
        return {"status": "success", "message": f"VM {name} rebooted"}
    if action == "delete":
        ops.destroy(name, delete_disks=True)
        return {"status": "success", "message": f"VM {name} and its disks deleted"}
    if action == "status":
        return {"status": "success", "power_state": _power(ops.state(name))}
    if action == "getconsole":
        # Refused before the host is asked: without console_url there is nothing to offer.
        if not config.console_url:
            raise ExtensionError(
                "Hyper-V consoles use VMConnect (RDP), which CloudStack cannot proxy; set the host detail "
                "console_url (e.g. a gateway URL with {vm_id}, {vm_name} and {host}) to offer one"
            )
        console = ops.console(name)
        fields = {"vm_id": console.vm_id or "", "vm_name": name, "host": console.host, "port": console.port}
        url = render_console_url(config.console_url, {k: "" if v is None else str(v) for k, v in fields.items()})
        return {"status": "success", "console": {"url": url, "protocol": "direct"}}
    return _custom(action, name, payload, ops)


def _custom(action: str, name: str, payload: Mapping[str, Any], ops: Operations) -> dict[str, Any]:
    if action in ("createsnapshot", "listsnapshots", "restoresnapshot", "deletesnapshot"):
        if action == "listsnapshots":
            rows = [
                {"name": c.name, "created": c.created or "", "parent": c.parent or ""} for c in ops.checkpoints(name)
            ]
            return {"status": "success", "message": rows}
        snapshot = _param(payload, "snapshot_name")
        if action == "createsnapshot":
            ops.create_checkpoint(name, snapshot)
            return {"status": "success", "message": f"Snapshot {snapshot} created"}
        if action == "deletesnapshot":
            ops.delete_checkpoint(name, snapshot)
            return {"status": "success", "message": f"Snapshot {snapshot} deleted"}
        # hyperv.py left the VM off after a restore while CloudStack still believed it running.
        ops.revert_checkpoint(name, snapshot, keep_running=True)
        return {"status": "success", "message": f"Snapshot {snapshot} restored"}
    if action in ("suspend", "resume"):
        (ops.suspend if action == "suspend" else ops.resume)(name)
        return {"status": "success", "message": f"VM {name} {action}d"}
    if action == "resize":
        params = payload.get("parameters") or {}
        cpus = _int(params.get("cpus"), "cpus")
        memory = _int(params.get("memory"), "memory")
        if cpus is None and memory is None:
            raise ExtensionError("resize needs cpus and/or memory (MiB)")
        ops.scale(name, cpus=cpus, memory_bytes=None if memory is None else memory * 1024 * 1024)
        return {"status": "success", "message": f"VM {name} resized"}
    if action in ("attachiso", "detachiso"):
        iso = _param(payload, "iso_path")
        if action == "attachiso":
            ops.attach_disk(name, DiskSpec(kind=DiskKind.ISO, path=iso))
        else:
            ops.detach_disk(name, iso)
        return {"status": "success", "message": f"ISO {action[:6]}ed"}
    raise ExtensionError(f"unknown action {action[:60]!r}")


# -- the process ------------------------------------------------------------------------------------


def _emit(document: Mapping[str, Any]) -> None:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) > MAX_OUTPUT:
        message = document.get("message")
        if isinstance(message, list):
            # Keep the table a table: as many rows as fit, and say so.
            rows = list(message)
            while rows and len(json.dumps({**document, "message": rows}).encode()) > MAX_OUTPUT - 200:
                rows = rows[: len(rows) // 2]
            text = json.dumps({**document, "message": rows, "truncated": True}, ensure_ascii=False)
        else:
            text = json.dumps({"status": "error", "error": "the result is too large to return"})
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _fail(message: str) -> int:
    _emit({"status": "error", "error": redact_text(message)})
    return 1


def _read_payload(path: str) -> dict[str, Any]:
    """The payload document, read without following a symbolic link and without blocking.

    A symbolic link is refused and left alone, with the file it names: following it would let
    whoever can write CloudStack's payload directory make this process read, then delete, any
    file its user can. A FIFO, device or directory is refused before a byte is read (opened with
    O_NONBLOCK, checked with fstat). At most MAX_PAYLOAD bytes are read. Deleting the file is
    :func:`_discard_payload`'s job, done by :func:`main` on every path.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ExtensionError(
                "the payload file is a symbolic link: refused, not followed (the link and the file it names "
                "are left in place; remove them if they hold a password)"
            ) from None
        raise ExtensionError(f"cannot read the payload file ({exc.strerror or type(exc).__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ExtensionError("the payload file is not a regular file (a FIFO, device or directory): refused")
        raw = bytearray()
        while len(raw) <= MAX_PAYLOAD:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            raw += chunk
        if len(raw) > MAX_PAYLOAD:
            raise ExtensionError(f"the payload file is larger than {MAX_PAYLOAD} bytes")
    except OSError as exc:
        raise ExtensionError(f"cannot read the payload file ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    try:
        document = json.loads(bytes(raw))
    except ValueError:
        raise ExtensionError("the payload file is not JSON") from None
    if not isinstance(document, dict):
        raise ExtensionError("the payload file is not a JSON object")
    return document


def _discard_payload(path: str) -> None:
    """Delete the payload file: it holds the host password, and CloudStack keeps it for a day.

    A regular file, FIFO or other non-directory is unlinked; a symbolic link is left alone (see
    :func:`_read_payload`), and so is a directory.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return
    with contextlib.suppress(OSError):
        os.unlink(path)


_CONSOLE_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_]*)\}|[{}]")


def render_console_url(template: str, values: Mapping[str, str]) -> str:
    """``template`` with ``{name}`` replaced by ``values[name]``; ``{{`` and ``}}`` are literal
    braces. Only plain names are understood: no attribute access, index or format spec (unlike
    ``str.format``, which evaluated ``{vm_name.__class__.__mro__}`` and built 100 MB strings for
    ``{vm_name:>100000000}``); anything else raises :class:`ExtensionError`. Linear in the
    template's length."""

    def substitute(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        name = match.group(1)
        if name is None or name not in values:
            known = ", ".join("{" + key + "}" for key in values)
            raise ExtensionError(f"console_url may only use {known} (and {{{{ }}}} for braces)")
        return values[name]

    return _CONSOLE_FIELD.sub(substitute, template)


def _setup_logging(config: HostConfig | None) -> None:
    target = os.environ.get("CSHYPERV_EXTENSION_LOG") or (config.log_file if config else None)
    root = logging.getLogger("cshyperv")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    root.propagate = False  # never let a record reach stderr (CloudStack merges it into the answer)
    if target:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    else:
        root.addHandler(logging.NullHandler())


def _wait_budget(text: str | None) -> float:
    """Seconds the action may take (argv 3); missing or 0 means DEFAULT_WAIT_S."""
    if text is None or not text.strip():
        return float(DEFAULT_WAIT_S)
    value = text.strip()
    # isdigit() alone accepts "²" and other digits int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ExtensionError("wait must be a whole number of seconds")
    return float(int(value) or DEFAULT_WAIT_S)


def main(argv: list[str] | None = None) -> int:
    """Run one action as CloudStack does: ``<action> <payload-file> <wait>``.

    Whatever happens, exactly one JSON document is written to stdout, nothing to stderr, and the
    payload file is deleted (unless it is a symbolic link: see :func:`_read_payload`).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _setup_logging(None)
    try:
        return _run(args)
    finally:
        if len(args) > 1:
            _discard_payload(args[1])


def _run(args: list[str]) -> int:
    if not args:
        return _fail("usage: cshyperv-extension <action> <payload-file> <wait-seconds>")
    action = args[0].strip()
    key = action.lower()
    # Commands CloudStack's ExternalResource does not handle arrive by class name with a 5 s
    # timeout: refuse at once, before reading the payload or touching the network.
    if action.startswith(("com.cloud.", "org.apache.")) or key not in (*VM_ACTIONS, "statuses", *CUSTOM_ACTIONS):
        return _fail(f"action {action[:120]!r} is not handled by the cshyperv extension")
    if key == "prepare":
        _emit({})
        return 0
    if len(args) < 2:
        return _fail("usage: cshyperv-extension <action> <payload-file> <wait-seconds>")
    try:
        budget = _wait_budget(args[2] if len(args) > 2 else None)
        payload = _read_payload(args[1])
        config = HostConfig.from_payload(payload)
        _setup_logging(config)
        with deadline.deadline_scope(max(1.0, budget - DEADLINE_MARGIN_S)):
            hypervisor = open_hypervisor(config)
            try:
                document = act(key, payload, config, hypervisor)
            finally:
                hypervisor.close()
    except (CSHyperVError, HypervisorError) as exc:
        log.info("%s failed: %s", key, redact_text(str(exc)))
        return _fail(str(exc))
    except Exception as exc:  # the executable's last line of defence: one JSON line, no traceback
        log.exception("%s failed", key)
        return _fail(f"internal error ({type(exc).__name__})")
    _emit(document)
    return 0


ACTIONS: tuple[str, ...] = (*VM_ACTIONS, "statuses", *CUSTOM_ACTIONS)

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
