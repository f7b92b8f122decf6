"""The Hyper-V plug-in against a real Hyper-V host (gated: it creates and deletes VMs there).

Set CSHYPERV_TEST_HYPERV_HOST (host, host:port or https URL), CSHYPERV_TEST_HYPERV_USER and
CSHYPERV_TEST_HYPERV_PASSWORD; optionally CSHYPERV_TEST_HYPERV_TRANSPORT (default ntlm),
CSHYPERV_TEST_HYPERV_VERIFY_TLS (default true) and CSHYPERV_TEST_HYPERV_TEMPLATE (a small .vhdx
the host can read, to enable the disk checks). Set CSHYPERV_TEST_HYPERV_RECORD to a directory to
record a transcript of every invocation (see docs/hyperv.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cshyperv.hyperv import HyperVHypervisor
from cshyperv.hyperv.winrm import HostConnection, WinRMRunner
from cshyperv.hypervisor import Hypervisor
from cshyperv.testing.conformance import HypervisorConformance
from cshyperv.testing.hyperv_host import RecordingRunner

HOST = os.environ.get("CSHYPERV_TEST_HYPERV_HOST")

pytestmark = pytest.mark.skipif(
    not (HOST and os.environ.get("CSHYPERV_TEST_HYPERV_USER") and os.environ.get("CSHYPERV_TEST_HYPERV_PASSWORD")),
    reason="the live Hyper-V suite needs CSHYPERV_TEST_HYPERV_HOST, CSHYPERV_TEST_HYPERV_USER and "
    "CSHYPERV_TEST_HYPERV_PASSWORD naming a Hyper-V host it may create and delete VMs on",
)


def _connection() -> HostConnection:
    return HostConnection.from_mapping(
        {
            "url": HOST,
            "username": os.environ["CSHYPERV_TEST_HYPERV_USER"],
            "password": os.environ["CSHYPERV_TEST_HYPERV_PASSWORD"],
            "transport": os.environ.get("CSHYPERV_TEST_HYPERV_TRANSPORT", "ntlm"),
            "verify_tls_certificate": os.environ.get("CSHYPERV_TEST_HYPERV_VERIFY_TLS", "true"),
        }
    )


class TestLiveHyperV(HypervisorConformance):
    def make_hypervisor(self, tmp_path: Path) -> Hypervisor:
        runner: object = WinRMRunner(_connection())
        record = os.environ.get("CSHYPERV_TEST_HYPERV_RECORD")
        if record:
            recorder = RecordingRunner(runner)
            self._recorder, self._record_dir = recorder, Path(record)
            runner = recorder
        return HyperVHypervisor(runner)  # type: ignore[arg-type]

    def make_template(self, hypervisor: Hypervisor, tmp_path: Path) -> str | None:
        return os.environ.get("CSHYPERV_TEST_HYPERV_TEMPLATE")

    def teardown_method(self, method: object) -> None:
        recorder = getattr(self, "_recorder", None)
        if recorder is not None:
            self._record_dir.mkdir(parents=True, exist_ok=True)
            recorder.save(self._record_dir / f"{getattr(method, '__name__', 'run')}.jsonl")


def test_live_path_capacity() -> None:
    """The host answers for a path every Hyper-V host has (its system drive) and, when given, an
    SMB path it can reach (CSHYPERV_TEST_HYPERV_SMB_PATH, e.g. \\\\fs.lab\\primary)."""
    hv = HyperVHypervisor(WinRMRunner(_connection()))
    try:
        for path in filter(None, ("C:\\Windows", os.environ.get("CSHYPERV_TEST_HYPERV_SMB_PATH"))):
            usage = hv.path_capacity(path)
            assert usage.total_bytes > 0 and 0 <= usage.free_bytes <= usage.total_bytes
    finally:
        hv.close()
