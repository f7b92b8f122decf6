"""A third frontend: CloudStack's agent protocol as JSON lines over stdin/stdout.

Each input line is one request, a JSON object::

    {"fqcn": "com.cloud.agent.api.ReadyCommand", "body": {"hostId": 5}}

(``body`` is the command as the management server would POST it; ``content_type`` may be given
too.) Each output line is the answer, byte for byte what the HTTPS agent would send back for the
same request: every routing rule is :func:`cshyperv.resource.handle_request`'s, so this file is
only the transport. A line that is not such an object gets a failed Answer naming the line.

Run it on the simulator (the default) or any registered plug-in::

    printf '%s\\n' '{"fqcn": "com.cloud.agent.api.CheckHealthCommand", "body": {}}' \\
        | python examples/jsonlines_agent.py --state ./jsonlines-state
    python examples/jsonlines_agent.py --hypervisor hyperv --set url=https://hv01:5986/wsman ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import BinaryIO

from cshyperv.commands import Answer
from cshyperv.plugins import default_plugins
from cshyperv.resource import AgentBackend, ServerResource, handle_request
from cshyperv.wire import Codec

MAX_LINE = 16 * 1024 * 1024  # the HTTPS agent's body limit


def serve(backend: AgentBackend, source: BinaryIO, sink: BinaryIO, codec: Codec | None = None) -> int:
    """Answer every line of ``source`` on ``sink``; returns the number of requests answered."""
    codec = codec or Codec()
    count = 0
    for number, line in enumerate(iter(lambda: source.readline(MAX_LINE + 1), b""), start=1):
        if not line.strip():
            continue
        count += 1
        try:
            request = json.loads(line)
            fqcn, body = request["fqcn"], request.get("body", {})
            content_type = request.get("content_type", "application/json")
            if not isinstance(fqcn, str) or not isinstance(content_type, str):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            failed = Answer(result=False, details=f'line {number} is not {{"fqcn": "...", "body": {{...}}}}')
            sink.write(codec.encode_answers([failed]) + b"\n")
        else:
            raw = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            sink.write(handle_request(backend, fqcn, raw, content_type, codec=codec).body + b"\n")
        sink.flush()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hypervisor", default="simulator")
    parser.add_argument("--state", default="./jsonlines-state", help="simulator state directory")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    config = dict(pair.partition("=")[::2] for pair in args.settings)
    if args.hypervisor == "simulator":
        Path(args.state).mkdir(parents=True, exist_ok=True)
        config.setdefault("state", str(Path(args.state) / "simulator.db"))
    plugin = default_plugins().load(args.hypervisor, config)
    resource = ServerResource(plugin)
    try:
        serve(resource, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        resource.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
