"""``cshyperv demo``: the wire codec on a realistic StartCommand, step by step.

Each step prints a line and checks its own result; the exit status is 0 only if every check held.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from cshyperv.errors import WireError
from cshyperv.wire import decode_answers, decode_command, encode, encode_answers

START = "com.cloud.agent.api.StartCommand"

# What a 4.23 management server posts for a user VM, plus a member no version of this model knows
# ("futureMember") at depth, to show that nothing is lost.
BODY = {
    "vm": {
        "id": 17,
        "name": "i-2-17-VM",
        "type": "User",
        "cpus": 2,
        "speed": 2000,
        "minRam": 1073741824,
        "maxRam": 2147483648,
        "os": "Ubuntu 22.04 LTS",
        "bootArgs": "",
        "vncPassword": "31f82f29aff646eb",
        "uuid": "8b030b6a-0243-440a-8cc5-45d08815ca11",
        "disks": [
            {
                "data": {
                    "org.apache.cloudstack.storage.to.VolumeObjectTO": {
                        "uuid": "19ae8e67-cb2c-4ab4-901e-e0b864272b59",
                        "volumeType": "ROOT",
                        "format": "VHDX",
                        "dataStore": {
                            "org.apache.cloudstack.storage.to.PrimaryDataStoreTO": {
                                "uuid": "5fe2bad3-d785-394e-9949-89786b8a63d2",
                                "poolType": "SMB",
                                "host": "10.1.1.5",
                                "path": "/primary",
                                "port": 445,
                            }
                        },
                        "size": 21474836480,
                        "id": 10,
                    }
                },
                "diskSeq": 0,
                "type": "ROOT",
            }
        ],
        "nics": [
            {
                "deviceId": 0,
                "mac": "02:00:51:2c:00:0e",
                "broadcastType": "Vlan",
                "broadcastUri": "vlan://261",
                "type": "Guest",
                "futureMember": {"added": "in a later CloudStack"},
            }
        ],
    },
    "secondaryStorages": ["cifs://10.1.1.1/secondary?user=administrator&password=1pass%40word1"],
    "contextMap": {},
    "wait": 0,
    "bypassHostMaintenance": False,
}


def run_codec_demo(echo: Callable[[str], object]) -> int:
    failures = 0

    def step(name: str, ok: bool, detail: str = "") -> None:
        nonlocal failures
        failures += 0 if ok else 1
        echo(f"  [{'ok' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}")

    echo("cshyperv wire codec demo")
    body = json.dumps(BODY).encode()
    started = time.perf_counter()
    command = decode_command(START, body)
    decoded_ms = (time.perf_counter() - started) * 1000
    step("decode StartCommand", command.vm is not None, f"{len(body)} bytes, {decoded_ms:.1f} ms cold")  # type: ignore[attr-defined]
    echo(f"    repr hides secrets: {repr(command)[:160]}...")
    step("repr carries no password", "1pass" not in repr(command) and "31f82f29" not in repr(command))

    again = json.loads(encode(command))
    step("re-encoding is lossless", again == BODY)
    nic = command.vm.nics[0]  # type: ignore[attr-defined]
    step("unknown member kept at vm.nics[0]", "futureMember" in nic.unknown_members)

    from cshyperv.commands.vm import StartAnswer

    answer = StartAnswer(vm=command.vm, details=None)  # type: ignore[attr-defined]
    wrapped = encode_answers([answer])
    back = decode_answers(wrapped)[0]
    step("StartAnswer echoes vm unchanged", back.vm == command.vm)  # type: ignore[attr-defined]

    bad = json.loads(body)
    bad["vm"]["nics"][0]["deviceId"] = "not a number"
    try:
        decode_command(START, json.dumps(bad))
        step("bad input rejected", False)
    except WireError as exc:
        step("bad input rejected with its JSON path", exc.path == "$.vm.nics[0].deviceId", str(exc))

    echo("all checks passed" if not failures else f"{failures} check(s) failed")
    return 0 if not failures else 1
