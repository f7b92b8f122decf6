"""Wire codec benchmark: typed, lossless decode + encode against the plain-JSON floor.

Run: ``python benchmarks/bench_wire.py`` (``--quick`` for a short run).

For each payload it reports, side by side in one run, round trips per second of
  * floor: ``json.loads`` + ``json.dumps`` of the same bytes (and the orjson floor when installed);
  * cshyperv: bytes -> typed objects -> bytes, standard library JSON and orjson backends;
  * cshyperv with schema validation on (Python ``jsonschema``).
Goal (issue #2): the typed lossless round trip within 3x of the plain floor; stretch: at the floor
with orjson.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.wire import HAVE_ORJSON, Codec  # noqa: E402
from cshyperv.wire.schema import SchemaValidator  # noqa: E402

START = "com.cloud.agent.api.StartCommand"


def realistic_start_command() -> bytes:
    """A ~4 KB StartCommand as a 4.23 management server sends it: 4 NICs, 3 disks, details maps."""
    store = {
        "org.apache.cloudstack.storage.to.PrimaryDataStoreTO": {
            "uuid": "5fe2bad3-d785-394e-9949-89786b8a63d2",
            "id": 201,
            "host": "10.70.176.29",
            "type": "SMB",
            "poolType": "SMB",
            "path": "/primary",
            "port": 445,
        }
    }
    disks = [
        {
            "data": {
                "org.apache.cloudstack.storage.to.VolumeObjectTO": {
                    "uuid": f"19ae8e67-cb2c-4ab4-901e-e0b86427{i:04d}",
                    "volumeType": "ROOT" if i == 0 else "DATADISK",
                    "format": "VHDX",
                    "dataStore": store,
                    "name": f"vol-{i}",
                    "size": 21474836480,
                    "path": f"19ae8e67-cb2c-4ab4-901e-e0b86427{i:04d}.vhdx",
                    "volumeId": 10 + i,
                    "accountId": 2,
                    "id": 10 + i,
                    "deviceId": i,
                    "provisioningType": "THIN",
                    "hypervisorType": "Hyperv",
                }
            },
            "diskSeq": i,
            "type": "ROOT" if i == 0 else "DATADISK",
            "details": {"storageHost": "10.70.176.29"},
        }
        for i in range(3)
    ]
    nics = [
        {
            "deviceId": i,
            "networkRateMbps": 200,
            "defaultNic": i == 0,
            "pxeDisable": False,
            "nicUuid": f"d1c6f0a2-3b4c-4d5e-8f90-a1b2c3d4e5f{i}",
            "details": {"PromiscuousMode": "false", "MacAddressChanges": "true", "ForgedTransmits": "true"},
            "dpdkEnabled": False,
            "mtu": 1500,
            "networkId": 204 + i,
            "enabled": True,
            "uuid": f"5b7a9c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2{i}",
            "ip": f"10.1.{i}.23",
            "netmask": "255.255.255.0",
            "gateway": f"10.1.{i}.1",
            "mac": f"02:01:00:cc:00:0{i}",
            "dns1": "10.1.1.1",
            "broadcastType": "Vlan",
            "type": "Guest",
            "broadcastUri": f"vlan://{1234 + i}",
            "isolationUri": f"vlan://{1234 + i}",
            "securityGroupEnabled": False,
        }
        for i in range(4)
    ]
    body = {
        "vm": {
            "id": 34,
            "name": "i-2-34-VM",
            "state": "Starting",
            "type": "User",
            "cpus": 4,
            "minSpeed": 2000,
            "maxSpeed": 2000,
            "minRam": 4294967296,
            "maxRam": 4294967296,
            "requestedRam": 0,
            "hostName": "web-01",
            "arch": "x86_64",
            "os": "Ubuntu 22.04 LTS",
            "bootArgs": "",
            "enableHA": True,
            "limitCpuUse": False,
            "enableDynamicallyScaleVm": False,
            "vncPassword": "q1W2e3R4t5Y6u7I8",
            "details": {
                "deployvm": "true",
                "cpuOvercommitRatio": "1.0",
                "memoryOvercommitRatio": "1.0",
                "rootDiskController": "scsi",
                "dataDiskController": "scsi",
            },
            "params": {},
            "uuid": "8e3b2a6c-5d4f-4c3b-9a21-7f0e6d5c4b3a",
            "bootType": "UEFI",
            "bootMode": "SECURE",
            "enterHardwareSetup": False,
            "disks": disks,
            "nics": nics,
            "configDriveLocation": "SECONDARY",
            "guestOsDetails": {},
            "extraConfig": {},
            "networkIdToNetworkNameMap": {"204": "net-a", "205": "net-b", "206": "net-c", "207": "net-d"},
        },
        "hostIp": "10.1.1.5",
        "executeInSequence": False,
        "secondaryStorages": ["cifs://10.1.1.1/secondary?user=admin&password=x"],
        "contextMap": {"logid": "a1b2c3d4"},
        "wait": 0,
        "bypassHostMaintenance": False,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Operations per second: the median of five timed batches."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        batch *= 2
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append(batch / (time.perf_counter() - start))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings (less stable)")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else 2.0

    payloads = {
        "StartCommand sample": (ROOT / "tests" / "samples" / "cmd-StartCommand.json").read_bytes(),
        "realistic StartCommand": realistic_start_command(),
    }
    stdlib = Codec(use_orjson=False)
    fast = Codec(use_orjson=True) if HAVE_ORJSON else None
    validating = Codec(validate=True, use_orjson=False)
    validating._validator = SchemaValidator(validating.registry, use_rust=False)
    rust = None
    try:
        import jsonschema_rs  # noqa: F401

        rust = Codec(validate=True, use_orjson=HAVE_ORJSON)
        rust._validator = SchemaValidator(rust.registry, use_rust=True)
    except ImportError:
        pass

    print(f"{'payload':24} {'bytes':>6}  {'case':44} {'round trips/s':>14}  {'vs json floor':>13}")
    for name, body in payloads.items():
        floor = rate(lambda b=body: json.dumps(json.loads(b), separators=(",", ":")), seconds)
        cases: list[tuple[str, Callable[[], object]]] = [
            ("floor: json.loads + json.dumps", lambda b=body: json.dumps(json.loads(b), separators=(",", ":"))),
            ("cshyperv decode+encode (stdlib json)", lambda b=body: stdlib.encode(stdlib.decode_command(START, b))),
        ]
        if fast is not None:
            import orjson

            cases.insert(1, ("floor: orjson.loads + orjson.dumps", lambda b=body: orjson.dumps(orjson.loads(b))))
            cases.append(("cshyperv decode+encode (orjson)", lambda b=body: fast.encode(fast.decode_command(START, b))))
        cases.append(
            (
                "cshyperv + schema validation (jsonschema)",
                lambda b=body: validating.encode(validating.decode_command(START, b)),
            )
        )
        if rust is not None:
            cases.append(
                (
                    "cshyperv + schema validation (jsonschema-rs)",
                    lambda b=body: rust.encode(rust.decode_command(START, b)),
                )
            )
        for case, fn in cases:
            value = floor if case.startswith("floor: json.") else rate(fn, seconds)
            print(f"{name:24} {len(body):6}  {case:44} {value:14,.0f}  {floor / value:12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
