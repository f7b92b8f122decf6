"""``cshyperv storage``: ls, cp, rm, df and install-template on SMB, NFS and local paths.

Locations are ``cifs://host[:port]/share/path``, ``smb://...``, UNC ``\\\\host\\share\\path``,
``nfs://host[:port]/export/path`` or local paths. SMB credentials come from the URL query
(``?user=..&password=..&domain=..``, as CloudStack writes them) or from ``CSHYPERV_SMB_USERNAME``,
``CSHYPERV_SMB_PASSWORD`` and ``CSHYPERV_SMB_DOMAIN`` — so a password need not be on a command
line. Errors are one line on stderr and exit status 1; passwords never appear.
"""

from __future__ import annotations

import os
import posixpath
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import click

from cshyperv.errors import CSHyperVError
from cshyperv.storage import RemoteStorageAccess, SmbCredentials, StorageAdaptor
from cshyperv.storage import copy_file as copy_between
from cshyperv.storage.urls import StorageURLError

__all__ = ["storage"]


def _access() -> RemoteStorageAccess:
    user = os.environ.get("CSHYPERV_SMB_USERNAME")
    creds = None
    if user:
        creds = SmbCredentials(user, os.environ.get("CSHYPERV_SMB_PASSWORD", ""), os.environ.get("CSHYPERV_SMB_DOMAIN"))
    return RemoteStorageAccess(credentials=creds, allow_local=True)


def _locate(access: RemoteStorageAccess, location: str) -> tuple[StorageAdaptor, str]:
    if "://" not in location and not location.startswith("\\\\"):
        location = os.path.abspath(location)
    return access.locate(location)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (OSError, CSHyperVError, StorageURLError) as exc:
        # OSError's str() carries errno and the (credential-free) location; that is the message.
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


class _ProgressBar:
    """A one-line progress display on a terminal; silent otherwise (logs, pipes)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._label = label
        self._enabled = enabled
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        rate = done / max(now - self._start, 1e-6) / 1e6
        if total:
            width = 30
            filled = int(width * done / total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r{self._label} [{bar}] {done * 100 // total:3d}% {done / 1e6:,.1f} MB {rate:,.1f} MB/s"
        else:
            text = f"\r{self._label} {done / 1e6:,.1f} MB {rate:,.1f} MB/s"
        click.echo(text, nl=False, err=True)

    def close(self) -> None:
        if self._enabled:
            click.echo("", err=True)


def _progress(label: str, quiet: bool) -> _ProgressBar:
    return _ProgressBar(label, enabled=not quiet and sys.stderr.isatty())


@click.group()
def storage() -> None:
    """Files on SMB shares, NFS exports and local disks, without mounting anything."""


@storage.command("ls")
@click.option("-l", "--long", "long_format", is_flag=True, help="Sizes and kinds.")
@click.option("-R", "--recursive", is_flag=True, help="Every file below, as relative paths.")
@click.argument("location")
def storage_ls(location: str, long_format: bool, recursive: bool) -> None:
    """List a directory (or show one file)."""
    access = _access()
    with _errors():
        adaptor, path = _locate(access, location)
        if recursive:
            for rel in adaptor.walk(path):
                shown = posixpath.relpath(rel, path) if path else rel
                if long_format:
                    click.echo(f"{adaptor.stat(rel).size:>15} {shown}")
                else:
                    click.echo(shown)
            return
        st = adaptor.stat(path)
        names = adaptor.listdir(path) if st.is_dir else [posixpath.basename(path)]
        for name in names:
            if not long_format:
                click.echo(name)
                continue
            entry = adaptor.stat(posixpath.join(path, name) if st.is_dir else path)
            kind = "d" if entry.is_dir else "-"
            click.echo(f"{kind} {entry.size:>15} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(entry.mtime))} {name}")
    access.close()


@storage.command("cp")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="Say which way the bytes went (server-side, or which libraries).")
@click.option("--no-server-side", is_flag=True, help="Stream through this machine even on one SMB server.")
@click.argument("source")
@click.argument("target")
def storage_cp(source: str, target: str, quiet: bool, no_server_side: bool, verbose: bool) -> None:
    """Copy a file. TARGET may be a directory (the name is kept). Atomic under the final name."""
    access = _access()
    with _errors():
        src, src_path = _locate(access, source)
        dst, dst_path = _locate(access, target)
        if (dst.exists(dst_path) and dst.stat(dst_path).is_dir) or target.endswith(("/", "\\")):
            dst_path = posixpath.join(dst_path, posixpath.basename(src_path))
        bar = _progress(posixpath.basename(src_path), quiet)
        started = time.monotonic()
        routes: list[str] = []
        size = copy_between(
            src, src_path, dst, dst_path, progress=bar, server_side=not no_server_side, on_route=routes.append
        )
        bar.close()
        elapsed = time.monotonic() - started
        if not quiet:
            click.echo(
                f"copied {size:,} bytes in {elapsed:.2f} s ({size / max(elapsed, 1e-6) / 1e6:,.1f} MB/s)", err=True
            )
        if verbose:
            for route in routes:
                click.echo(f"route: {route}", err=True)
    access.close()


@storage.command("rm")
@click.option("-r", "--recursive", is_flag=True, help="Remove directories and their contents.")
@click.argument("locations", nargs=-1, required=True)
def storage_rm(locations: tuple[str, ...], recursive: bool) -> None:
    """Remove files (and with -r directories). Absent is an error, as for rm."""
    access = _access()
    with _errors():
        for location in locations:
            adaptor, path = _locate(access, location)
            st = adaptor.stat(path)
            if st.is_dir and not recursive:
                raise IsADirectoryError(21, "is a directory (use -r)", location.split("?", 1)[0])
            adaptor.remove(path)
    access.close()


@storage.command("df")
@click.option("-H", "--human", is_flag=True, help="Sizes in GB.")
@click.argument("locations", nargs=-1, required=True)
def storage_df(locations: tuple[str, ...], human: bool) -> None:
    """Total, used and free space of shares or exports."""
    access = _access()
    with _errors():
        click.echo(f"{'total':>15} {'used':>15} {'free':>15}  location")
        for location in locations:
            adaptor, path = _locate(access, location)
            usage = adaptor.disk_usage(path)
            values = (usage.total_bytes, usage.used_bytes, usage.free_bytes)
            cells = [f"{v / 1e9:,.1f}G" if human else str(v) for v in values]
            shown = location.split("?", 1)[0]
            click.echo(f"{cells[0]:>15} {cells[1]:>15} {cells[2]:>15}  {shown}")
    access.close()


@storage.command("install-template")
@click.option("--checksum", help="{MD5}hex, {SHA-256}hex or bare hex, as CloudStack registers it.")
@click.option("--name", help="File name in the store (default: the source's, without .gz/.bz2/.xz/.zip).")
@click.option("--id", "template_id", type=int, help="CloudStack template id for template.properties.")
@click.option("--insecure", is_flag=True, help="Do not verify the HTTPS server's certificate.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.argument("source")
@click.argument("folder")
def storage_install_template(
    source: str,
    folder: str,
    checksum: str | None,
    name: str | None,
    template_id: int | None,
    insecure: bool,
    quiet: bool,
) -> None:
    """Download SOURCE (http(s) URL or any location) into FOLDER, verified and decompressed."""
    from cshyperv.storage import install_template  # with its HTTP client: only this command needs it

    access = _access()
    with _errors():
        store, path = _locate(access, folder)
        opener = None
        if not source.lower().startswith(("http://", "https://")):

            def opener(location: str) -> tuple[BinaryIO, int | None]:
                adaptor, rel = _locate(access, location)
                return adaptor.open_read(rel), adaptor.stat(rel).size

        bar = _progress(posixpath.basename(source.split("?", 1)[0]), quiet)
        installed = install_template(
            source,
            store,
            path,
            name=name,
            checksum=checksum,
            progress=bar,
            open_source=opener,
            template_id=template_id,
            verify_tls=not insecure,
        )
        bar.close()
        state = "already installed" if installed.reused else "installed"
        click.echo(f"{state}: {installed.path} ({installed.size:,} bytes)")
    access.close()
