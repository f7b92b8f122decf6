"""Agent throughput over HTTPS keep-alive, side by side with a fixed-body floor on the same stack.

Run: ``python benchmarks/bench_agent.py [--seconds 5] [--clients 8]``

The floor is an ASGI app answering every POST with a constant body, under the same uvicorn/TLS
configuration: what the server stack alone costs. Against it: CheckHealthCommand and StartCommand
(a running VM: the idempotent path CloudStack's retries take) through decode, dispatch, the
simulator (SQLite) and encode. Goal (issue #3): >= 50% of the floor; p50/p99 latency reported.
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

        config, _ = _uvicorn_config(
            FloorApp(body),  # type: ignore[arg-type]
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


def serve_child(kind: str, root: Path) -> int:
    """Run one server in this process (so the load generator does not share its GIL)."""
    server: AgentServer = (
        FloorServer(root / "floor") if kind == "floor" else AgentServer(prepare(root)[0], state_dir=root)
    )
    with server:
        print(server.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    return 0


def spawn(kind: str, root: Path) -> tuple[Any, int]:
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--root", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def main() -> int:
    parser = argparse.ArgumentParser(description="agent throughput vs a fixed-body floor")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--serve", choices=["floor", "agent"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_child(args.serve, Path(args.root))

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "agent").mkdir()
        _, start_body = prepare(root / "bodies")
        common = {"clients": args.clients, "seconds": args.seconds, "max_requests": args.max_requests}
        cases = [
            (
                "CheckHealthCommand",
                "/api/HypervResource/com.cloud.agent.api.CheckHealthCommand",
                b'{"contextMap":{},"wait":50}',
            ),
            ("StartCommand (VM running)", "/api/HypervResource/com.cloud.agent.api.StartCommand", start_body),
        ]
        header = f"{'case':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9}"
        print(f"{header}   ({args.clients} clients, HTTPS keep-alive, server in its own process)")
        agent, port = spawn("agent", root / "agent")
        try:
            for name, path, body in cases:
                # The floor answers with the very bytes the agent answers, from the same stack.
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
                conn.request("POST", path, body=body, headers={"content-type": "application/json"})
                answer = conn.getresponse().read()
                conn.close()
                floor_dir = root / f"floor-{len(answer)}"
                floor_dir.mkdir(exist_ok=True)
                (floor_dir / "answer.json").write_bytes(answer)
                floor, floor_port = spawn("floor", floor_dir)
                try:
                    base = load(floor_port, path, body, **common)
                finally:
                    floor.communicate()
                result = load(port, path, body, **common)
                share = result["rps"] / base["rps"] * 100
                label = f"floor ({len(body)} B in, {len(answer)} B out)"
                print(f"{label:34} {base['rps']:9,.0f} {base['p50']:8.2f} {base['p99']:8.2f} {'100%':>9}")
                print(f"{name:34} {result['rps']:9,.0f} {result['p50']:8.2f} {result['p99']:8.2f} {share:8.0f}%")
        finally:
            agent.communicate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
