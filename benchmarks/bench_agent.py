"""Agent throughput over HTTPS keep-alive, side by side with a fixed-body floor on the same stack.

Run: ``python benchmarks/bench_agent.py [--seconds 5] [--clients 1,4,8] [--no-hyperv]``

The floor is an ASGI app answering every POST with the very bytes the agent answers that case
with, under the same uvicorn/TLS configuration: what the server stack alone costs. Against it:
CheckHealthCommand and StartCommand (a running VM: the idempotent path CloudStack's retries take)
through decode, dispatch, the simulator (SQLite) and encode, at each client count in turn (the
floor and the agent alternate). Goal (issue #14): StartCommand >= 50% of the floor at 1, 4 and 8
clients; p50/p99 latency reported.

Last, StartCommand through the Hyper-V plug-in: the agent's plug-in talks WS-Management (NTLM,
sealed) to a loopback endpoint in the server's process, which runs the simulated Hyper-V host.
Its figure is there to catch a regression of that path (compare two runs), not to meet a goal.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.frontends.direct_connect import AgentServer, _uvicorn_config  # noqa: E402
from cshyperv.resource import ServerResource  # noqa: E402
from cshyperv.simulator import SimulatorHypervisor  # noqa: E402
from cshyperv.testing.scenario import Scenario  # noqa: E402
from cshyperv.wire import encode  # noqa: E402

API = "/api/HypervResource/"
FIXED = b'[{"com.cloud.agent.api.CheckHealthAnswer":{"result":true,"details":"resource is alive"}}]'


class FloorApp:
    """Answers every request with the same bytes: no decode, no dispatch."""

    def __init__(self, body: bytes = FIXED) -> None:
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class FloorServer(AgentServer):
    def __init__(self, state_dir: Path, body: bytes = FIXED) -> None:
        import uvicorn

        answer = state_dir / "answer.json"
        config, _ = _uvicorn_config(
            FloorApp(answer.read_bytes() if answer.exists() else body),  # type: ignore[arg-type]
            host="127.0.0.1",
            port=0,
            tls=True,
            certfile=None,
            keyfile=None,
            state_dir=state_dir,
        )
        self._server = uvicorn.Server(config)
        self._thread = None
        self.port = 0


def load(port: int, path: str, body: bytes, *, clients: int, seconds: float, max_requests: int) -> dict[str, float]:
    """N client threads on keep-alive connections, bounded in time and count."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    budget = [max_requests]

    def worker() -> None:
        context = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers={"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "n": float(len(latencies)),
    }


def prepare(root: Path) -> tuple[ServerResource, bytes]:
    """A simulator with one running VM; returns the resource and that VM's StartCommand body."""
    scenario = Scenario()
    sim = SimulatorHypervisor(root / "sim.db")
    sim.files.create_disk(scenario.secondary_template_unc, 2**30)
    resource = ServerResource(sim, sim.storage_access())
    copied = resource.execute(scenario.copy_template_to_primary())
    volume = resource.execute(scenario.copy_template_to_volume(copied.new_data.path))  # type: ignore[attr-defined]
    start = scenario.start(volume.new_data.path)  # type: ignore[attr-defined]
    assert resource.execute(start).result
    return resource, encode(start)


def prepare_hyperv(root: Path) -> tuple[ServerResource, Any]:
    """The same running VM, but the agent's plug-in is the Hyper-V one, over WS-Management (NTLM)
    to a loopback endpoint serving the simulated host; returns the resource and the endpoint."""
    from cshyperv.hyperv import HyperVHypervisor
    from cshyperv.hyperv.winrm import HostConnection, WinRMRunner
    from cshyperv.testing.hyperv_host import SimulatedHyperVHost
    from cshyperv.testing.wsman import LoopbackWSManServer

    prepare(root)
    sim = SimulatorHypervisor(root / "sim.db")
    endpoint = LoopbackWSManServer(SimulatedHyperVHost(sim).invoke, username="admin", password="P@ss w0rd")
    endpoint.__enter__()
    connection = HostConnection(url=endpoint.url, username="admin", password="P@ss w0rd", transport="ntlm")
    return ServerResource(HyperVHypervisor(WinRMRunner(connection)), sim.storage_access()), endpoint


def serve_child(kind: str, root: Path) -> int:
    """Run one server in this process (so the load generator does not share its GIL)."""
    endpoint = None
    if kind == "floor":
        server: AgentServer = FloorServer(root)
    elif kind == "hyperv":
        resource, endpoint = prepare_hyperv(root)
        server = AgentServer(resource, state_dir=root)
    else:
        server = AgentServer(prepare(root)[0], state_dir=root)
    with server:
        print(server.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    if endpoint is not None:
        endpoint.__exit__(None, None, None)
    return 0


def spawn(kind: str, root: Path) -> tuple[Any, int]:
    import subprocess

    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--root", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def fetch(port: int, path: str, body: bytes) -> bytes:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
    conn.request("POST", path, body=body, headers={"content-type": "application/json"})
    answer = conn.getresponse().read()
    conn.close()
    return answer


def row(label: str, figures: dict[str, float], share: str) -> str:
    return f"{label:40} {figures['rps']:9,.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} {share:>9}"


def main() -> int:
    parser = argparse.ArgumentParser(description="agent throughput vs a fixed-body floor")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--clients", default="1,4,8", help="client counts, comma-separated")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--no-hyperv", action="store_true", help="skip the Hyper-V plug-in case")
    parser.add_argument("--serve", choices=["floor", "agent", "hyperv"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_child(args.serve, Path(args.root))

    counts = [int(n) for n in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _, start_body = prepare(root / "bodies")
        start_path = "/api/HypervResource/com.cloud.agent.api.StartCommand"
        cases = [
            (
                "CheckHealthCommand",
                "/api/HypervResource/com.cloud.agent.api.CheckHealthCommand",
                b'{"contextMap":{},"wait":50}',
            ),
            ("StartCommand (VM running)", start_path, start_body),
        ]
        header = f"{'case':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9}"
        print(f"{header}   (HTTPS keep-alive, servers in their own processes)")
        agent, port = spawn("agent", root / "agent")
        try:
            for name, path, body in cases:
                # The floor answers with the very bytes the agent answers, from the same stack.
                answer = fetch(port, path, body)
                floor_dir = root / f"floor-{name.split()[0]}"
                floor_dir.mkdir()
                (floor_dir / "answer.json").write_bytes(answer)
                floor, floor_port = spawn("floor", floor_dir)
                assert fetch(floor_port, path, body) == answer
                print(f"{name} ({len(body)} B in, {len(answer)} B out)")
                try:
                    for clients in counts:
                        common = {"clients": clients, "seconds": args.seconds, "max_requests": args.max_requests}
                        base = load(floor_port, path, body, **common)
                        result = load(port, path, body, **common)
                        share = f"{result['rps'] / base['rps'] * 100:.0f}%"
                        print(row(f"  floor, {clients} clients", base, "100%"))
                        print(row(f"  agent, {clients} clients", result, share))
                finally:
                    floor.communicate()
        finally:
            agent.communicate()
        if not args.no_hyperv:
            hyperv, port = spawn("hyperv", root / "hyperv")
            try:
                answer = fetch(port, start_path, start_body)
                if b'"result":true' not in answer:
                    raise RuntimeError(f"the Hyper-V path failed: {answer[:300]!r}")
                print(f"StartCommand through the Hyper-V plug-in (WS-Management, NTLM, {len(answer)} B out)")
                for clients in counts:
                    common = {"clients": clients, "seconds": args.seconds, "max_requests": args.max_requests}
                    print(row(f"  agent, {clients} clients", load(port, start_path, start_body, **common), "-"))
            finally:
                hyperv.communicate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
