"""Agent throughput over HTTPS keep-alive, side by side with a fixed-body floor on the same stack.

Run: ``python benchmarks/bench_agent.py [--seconds 3] [--rounds 3] [--clients 1,4,8] [--no-hyperv]``

The floor is an ASGI app answering every POST with the very bytes the agent answers that case
with, under the same uvicorn/TLS configuration: what the server stack alone costs. Against it:
CheckHealthCommand and StartCommand (a running VM: the idempotent path CloudStack's retries take)
through decode, dispatch, the simulator (SQLite) and encode. Goal (issue #14): StartCommand >= 50%
of the floor at 1, 4 and 8 clients; p50/p99 latency reported.

Method: each server runs in a process of its own, started once and kept for the whole run (its
start-up is not measured). A measurement is ``--seconds`` of load from N client threads. The run
is ``--rounds`` rounds; in each, every case at every client count measures the floor and the
agent back to back, the floor first in even rounds and the agent first in odd ones, so that the
machine's drift (this is a noisy 2-core machine) falls on both alike. Reported: the median req/s
of the rounds, "vs floor" as the ratio of the two medians, the range (min-max req/s) of the
rounds, and p50/p99 over the latencies of all the rounds' requests together.

Last, StartCommand through the Hyper-V plug-in: the agent's plug-in talks WS-Management (NTLM,
sealed) to a loopback endpoint in the server's process, which runs the simulated Hyper-V host.
It has no floor; it is measured the same number of rounds, after the others, and reported the
same way. Its figure is there to catch a regression of that path (compare two runs), not to meet
a goal.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
            FloorApp(answer.read_bytes() if answer.exists() else body),
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


@dataclass
class Run:
    """One measurement: its throughput and every request's latency (s)."""

    rps: float
    latencies: list[float]


def load(port: int, path: str, body: bytes, *, clients: int, seconds: float, max_requests: int) -> Run:
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
    return Run(len(latencies) / elapsed, latencies)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (0 for none)."""
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)] if ordered else 0.0


@dataclass
class Summary:
    rps: float  # the median of the rounds
    low: float  # the slowest round
    high: float  # the fastest round
    p50: float  # ms, over all the rounds' requests
    p99: float


def summarize(runs: list[Run]) -> Summary:
    rates = [run.rps for run in runs]
    pooled = sorted(latency for run in runs for latency in run.latencies)
    return Summary(
        rps=statistics.median(rates),
        low=min(rates),
        high=max(rates),
        p50=percentile(pooled, 0.50) * 1000,
        p99=percentile(pooled, 0.99) * 1000,
    )


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


@contextlib.contextmanager
def served(kind: str, root: Path) -> Iterator[int]:
    """A server process of that kind for the block; yields its port, stops it (closes its stdin) after."""
    proc, port = spawn(kind, root)
    try:
        yield port
    finally:
        proc.communicate()


def fetch(port: int, path: str, body: bytes) -> bytes:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
    conn.request("POST", path, body=body, headers={"content-type": "application/json"})
    answer = conn.getresponse().read()
    conn.close()
    return answer


def row(label: str, figures: Summary, share: str) -> str:
    spread = f"{figures.low:,.0f}-{figures.high:,.0f}"
    return f"{label:40} {figures.rps:9,.0f} {figures.p50:8.2f} {figures.p99:8.2f} {share:>9}  {spread:>13}"


def main() -> int:
    parser = argparse.ArgumentParser(description="agent throughput vs a fixed-body floor")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--clients", default="1,4,8", help="client counts, comma-separated")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per measurement")
    parser.add_argument("--no-hyperv", action="store_true", help="skip the Hyper-V plug-in case")
    parser.add_argument("--serve", choices=["floor", "agent", "hyperv"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_child(args.serve, Path(args.root))
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    counts = [int(n) for n in args.clients.split(",")]
    common = {"seconds": args.seconds, "max_requests": args.max_requests}
    # (case, "floor" | "agent", clients) -> one run a round
    runs: dict[tuple[str, str, int], list[Run]] = {}
    titles: dict[str, str] = {}
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
        with contextlib.ExitStack() as servers:
            # One agent and one floor a case, all started before the first round and kept to the last.
            port = servers.enter_context(served("agent", root / "agent"))
            ports: dict[str, dict[str, int]] = {}
            for name, path, body in cases:
                # The floor answers with the very bytes the agent answers, from the same stack.
                answer = fetch(port, path, body)
                floor_dir = root / f"floor-{name.split()[0]}"
                floor_dir.mkdir()
                (floor_dir / "answer.json").write_bytes(answer)
                floor_port = servers.enter_context(served("floor", floor_dir))
                assert fetch(floor_port, path, body) == answer
                ports[name] = {"floor": floor_port, "agent": port}
                titles[name] = f"{name} ({len(body)} B in, {len(answer)} B out)"
            for r in range(args.rounds):
                order = ("floor", "agent") if r % 2 == 0 else ("agent", "floor")
                for name, path, body in cases:
                    for clients in counts:
                        for kind in order:
                            run = load(ports[name][kind], path, body, clients=clients, **common)
                            runs.setdefault((name, kind, clients), []).append(run)
        hyperv_title = None
        if not args.no_hyperv:
            with served("hyperv", root / "hyperv") as port:
                answer = fetch(port, start_path, start_body)
                if b'"result":true' not in answer:
                    raise RuntimeError(f"the Hyper-V path failed: {answer[:300]!r}")
                hyperv_title = f"StartCommand through the Hyper-V plug-in (WS-Management, NTLM, {len(answer)} B out)"
                for _ in range(args.rounds):
                    for clients in counts:
                        run = load(port, start_path, start_body, clients=clients, **common)
                        runs.setdefault((hyperv_title, "agent", clients), []).append(run)

    n = args.rounds
    rounds = f"median of {n} alternating rounds" if n > 1 else "1 round"
    header = f"{'case':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9}  {'min-max req/s':>13}"
    note = f"HTTPS keep-alive, servers in their own processes; req/s: {rounds} of {args.seconds:g} s"
    print(f"{header}   ({note}; p50/p99: all the rounds' requests together)")
    for name, _, _ in cases:
        print(titles[name])
        for clients in counts:
            base = summarize(runs[(name, "floor", clients)])
            result = summarize(runs[(name, "agent", clients)])
            print(row(f"  floor, {clients} clients", base, "100%"))
            print(row(f"  agent, {clients} clients", result, f"{result.rps / base.rps * 100:.0f}%"))
    if hyperv_title is not None:
        print(hyperv_title)
        for clients in counts:
            print(row(f"  agent, {clients} clients", summarize(runs[(hyperv_title, "agent", clients)]), "-"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
