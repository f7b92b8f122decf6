"""Decode a StartCommand the way an agent receives it, and build the answer CloudStack expects.

Run: python examples/decode_and_answer.py
"""

from __future__ import annotations

import json

from cshyperv.commands import StartAnswer, StartCommand
from cshyperv.wire import decode_command, encode, encode_answers

BODY = json.dumps(
    {
        "vm": {
            "name": "i-2-17-VM",
            "cpus": 2,
            "maxRam": 2147483648,
            "nics": [{"deviceId": 0, "mac": "02:00:51:2c:00:0e", "broadcastUri": "vlan://261", "newField": 1}],
        },
        "secondaryStorage": "cifs://10.1.1.1/secondary?user=admin&password=not-shown",
        "wait": 0,
    }
)


def main() -> None:
    command = decode_command("com.cloud.agent.api.StartCommand", BODY)
    assert isinstance(command, StartCommand) and command.vm is not None
    print("VM:", command.vm.name, "NICs:", [(n.mac, n.broadcast_uri) for n in command.vm.nics or ()])
    print("repr hides the password:", repr(command)[-80:])
    print("lossless:", json.loads(encode(command)) == json.loads(BODY))
    print("answer:", encode_answers([StartAnswer(vm=command.vm)]).decode()[:100], "...")


if __name__ == "__main__":
    main()
