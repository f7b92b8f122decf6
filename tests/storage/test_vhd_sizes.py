"""Virtual sizes read from real VHD and VHDX images (made by qemu-img), streamed or whole."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cshyperv.storage import LocalStorageAdaptor, install_template, read_template_properties
from cshyperv.storage.vhd import SizeSniffer, probe_virtual_size, virtual_size


def _qemu_img() -> str:
    found = shutil.which("qemu-img")
    if found is None:
        if os.environ.get("CSHYPERV_REQUIRE_REAL_SERVERS") == "1":
            pytest.fail("qemu-img is missing (scripts/install-servers installs qemu-utils)")
        pytest.skip("qemu-img is not installed (apt-get install qemu-utils)")
    return found


def _image(tmp: Path, fmt: str, size: str, *options: str) -> tuple[Path, int]:
    path = tmp / f"disk-{fmt}-{size}{'-'.join(options)}.img"
    opts = [arg for option in options for arg in ("-o", option)]
    subprocess.run([_qemu_img(), "create", "-q", "-f", fmt, *opts, str(path), size], check=True)
    # -f: without it qemu-img takes a fixed VHD for a raw image (the footer is at the end).
    info = subprocess.run([_qemu_img(), "info", "-f", fmt, "--output=json", str(path)], check=True, capture_output=True)
    return path, int(json.loads(info.stdout)["virtual-size"])


@pytest.mark.parametrize(
    ("fmt", "size", "options"),
    [
        ("vhdx", "10G", ()),
        ("vhdx", "1T", ("subformat=dynamic",)),
        ("vhdx", "64M", ("subformat=fixed",)),
        ("vpc", "3G", ()),
        ("vpc", "64M", ("subformat=fixed",)),
    ],
)
def test_virtual_size_matches_qemu_img(tmp_path: Path, fmt: str, size: str, options: tuple[str, ...]) -> None:
    path, expected = _image(tmp_path, fmt, size, *options)
    data = path.read_bytes()
    assert virtual_size(data[: 8 * 1024 * 1024], data[-512:]) == expected
    sniffer = SizeSniffer(io.BytesIO(data))
    while sniffer.read(1024 * 1024 + 7):  # odd chunks: the tail must still be the last 512 bytes
        pass
    assert sniffer.virtual_size() == expected


def test_not_an_image() -> None:
    assert virtual_size(os.urandom(300_000), os.urandom(512)) is None
    assert virtual_size(b"", b"") is None


def test_installed_template_records_the_virtual_size(tmp_path: Path) -> None:
    path, expected = _image(tmp_path, "vhdx", "20G")
    store = LocalStorageAdaptor(tmp_path / "store")
    (tmp_path / "store").mkdir()
    source = LocalStorageAdaptor(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    installed = install_template(
        "ubuntu.vhdx", store, "template/tmpl/2/9", checksum=digest,
        open_source=lambda _s: (source.open_read(path.name), path.stat().st_size),
    )  # fmt: skip
    assert installed.virtual_size == expected == 20 * 1024**3
    props = read_template_properties(store, "template/tmpl/2/9")
    assert props["virtualsize"] == props["vhdx.virtualsize"] == str(expected)
    assert props["size"] == str(path.stat().st_size)


@pytest.mark.parametrize(("fmt", "options"), [("vhdx", ()), ("vpc", ()), ("vpc", ("subformat=fixed",))])
def test_probe_reads_only_what_it_needs(tmp_path: Path, fmt: str, options: tuple[str, ...]) -> None:
    path, expected = _image(tmp_path, fmt, "64M", *options)
    named = path.rename(path.with_suffix(".vhdx" if fmt == "vhdx" else ".vhd"))
    assert probe_virtual_size(LocalStorageAdaptor(tmp_path), named.name) == expected
