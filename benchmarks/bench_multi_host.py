"""One agent process serving many hosts, polled as CloudStack polls them, against a one-host baseline.

Run: ``python benchmarks/bench_multi_host.py [--hosts 50] [--seconds 20] [--interval 1.0]``

The agent runs in its own process (``cshyperv agent serve --config``) with simulated hosts on
127.0.0.2, 127.0.0.3, ... (all of 127/8 is loopback), each on port 8250's stand-in, each with its
own simulator. One client thread per host does what a management server does for a host it
manages: every ``--interval`` seconds a PingRoutingCommand and a HostVmStateReport, over HTTPS
keep-alive; on a few hosts, every 5 s, a burst of 10 StartCommands for a running VM (CloudStack's
retries). The same thing with one host is the baseline, in the same run. Reported: p50/p99 of
the ping/report latency (baseline; all hosts; the median host's p99 and the worst host's p99),
and the agent's RSS and thread count. Goal (issue #15): p99 with 50 hosts <= 3x one host.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cshyperv.simulator import seed_disk  # noqa: E402
from cshyperv.testing.scenario import Scenario  # noqa: E402
from cshyperv.wire import encode  # noqa: E402

API = "/api/HypervResource/"
GiB = 1024**3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        return int(probe.getsockname()[1])


def write_config(root: Path, hosts: int, port: int) -> Path:
    lines = [f'[defaults]\nhypervisor = "simulator"\nstate_dir = "{root / "state"}"\nworkers = 8\n']
    scenario = Scenario()
    for index in range(hosts):
        name = f"hv{index + 1:02d}"
        lines.append(f'[[host]]\nname = "{name}"\nlisten = "127.0.0.{index + 2}:{port}"\n')
        # The template each host's primary copy starts from, on the simulated secondary store.
        seed_disk(root / "state" / name / "simulator.db", scenario.secondary_template_unc, GiB)
    path = root / "agent.toml"
    path.write_text("\n".join(lines))
    return path


class Client:
    def __init__(self, address: str, port: int) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.connection = http.client.HTTPSConnection(address, port, context=context, timeout=120)

    def post(self, fqcn: str, body: bytes) -> bytes:
        try:
            self.connection.request("POST", API + fqcn, body=body, headers={"Content-Type": "application/json"})
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed an idle keep-alive connection (uvicorn: after 5 s); a client
            # reconnects, as CloudStack's HttpClient does after its stale-connection check.
            self.connection.close()
            self.connection.request("POST", API + fqcn, body=body, headers={"Content-Type": "application/json"})
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return data


def wait_alive(address: str, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            Client(address, port).post("com.cloud.agent.api.CheckHealthCommand", b"{}")
            return
        except (OSError, RuntimeError):
            time.sleep(0.1)
    raise RuntimeError(f"the agent did not answer on {address}:{port}")


def agent_stats(pid: int) -> tuple[float, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def run(  # noqa: PLR0917 - a benchmark's knobs
    hosts: int, seconds: float, interval: float, bursts: int, burst_every: float = 5.0, burst_size: int = 10
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cshyperv-bench-multi-") as scratch:
        root = Path(scratch)
        port = free_port()
        config = write_config(root, hosts, port)
        agent = subprocess.Popen(
            [sys.executable, "-m", "cshyperv.cli", "agent", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for index in range(hosts):
                wait_alive(f"127.0.0.{index + 2}", port)
            scenario = Scenario()
            ping = encode(scenario.ping({}))
            latencies: dict[str, list[float]] = {}
            stop = threading.Event()
            errors: list[str] = []

            def poll(index: int) -> None:
                name = f"hv{index + 1:02d}"
                mine = latencies.setdefault(name, [])
                client = Client(f"127.0.0.{index + 2}", port)
                # Spread the hosts' polls over the interval, as CloudStack's ping timers drift.
                time.sleep(interval * index / max(hosts, 1))
                rounds = 0
                while not stop.is_set():
                    for fqcn, body in (
                        ("com.cloud.agent.api.PingRoutingCommand", ping),
                        ("com.cloud.agent.api.HostVmStateReportCommand", b"{}"),
                    ):
                        started = time.perf_counter()
                        try:
                            client.post(fqcn, body)
                        except (OSError, RuntimeError) as exc:
                            errors.append(f"{name}: {exc}")
                            return
                        if rounds:  # the first round pays the TLS handshake: not a steady-state poll
                            mine.append(time.perf_counter() - started)
                    rounds += 1
                    stop.wait(interval)

            def burst(index: int) -> None:
                client = Client(f"127.0.0.{index + 2}", port)
                to_primary = scenario.copy_template_to_primary()
                path = _new_path(client.post(to_primary.FQCN, encode(to_primary)))
                to_volume = scenario.copy_template_to_volume(path)
                start = scenario.start(_new_path(client.post(to_volume.FQCN, encode(to_volume))))
                body = encode(start)
                # Every few seconds a burst of retried StartCommands, as a management server sends
                # when a deployment times out on its side.
                while not stop.wait(burst_every):
                    for _ in range(burst_size):
                        client.post(start.FQCN, body)

            threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(hosts)]
            threads += [threading.Thread(target=burst, args=(i,), daemon=True) for i in range(min(bursts, hosts))]
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            rss, thread_count = agent_stats(agent.pid)
            stop.set()
            for thread in threads:
                thread.join(120)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(120)
    every = sorted(x for values in latencies.values() for x in values)
    per_host_p99 = sorted(_p(v, 0.99) for v in latencies.values() if v)
    return {
        "hosts": hosts,
        "requests": len(every),
        "errors": errors,
        "p50": _p(every, 0.50),
        "p99": _p(every, 0.99),
        "median_host_p99": statistics.median(per_host_p99),
        "worst_host_p99": per_host_p99[-1],
        "rss_mib": rss,
        "threads": thread_count,
    }


def _new_path(answer: bytes) -> str:
    import json

    ((_, body),) = json.loads(answer)[0].items()
    if not body.get("result"):
        raise RuntimeError(f"copy failed: {body.get('details')}")
    ((_, data),) = body["newData"].items()
    return str(data["path"])


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one host's polls")
    parser.add_argument("--bursts", type=int, default=5, help="hosts that also get a StartCommand burst")
    args = parser.parse_args()
    if os.name != "posix" or not Path("/proc/self/status").exists():
        print("needs Linux (/proc) for the agent's RSS and threads")
        return 1
    baseline = run(1, args.seconds, args.interval, min(args.bursts, 1))
    scaled = run(args.hosts, args.seconds, args.interval, args.bursts)
    print(
        f"{'case':28} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'median host p99':>16} {'worst host p99':>15}"
        f" {'RSS MiB':>8} {'threads':>8}"
    )
    for label, r in (("1 host (baseline)", baseline), (f"{args.hosts} hosts, one process", scaled)):
        print(
            f"{label:28} {r['requests']:>8} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['median_host_p99']:>16.2f}"
            f" {r['worst_host_p99']:>15.2f} {r['rss_mib']:>8.1f} {r['threads']:>8}"
        )
    base = float(baseline["p99"])  # type: ignore[arg-type]
    print(
        f"p99, {args.hosts} hosts / 1 host: all requests {float(scaled['p99']) / base:.2f}x, median host "  # type: ignore[arg-type]
        f"{float(scaled['median_host_p99']) / base:.2f}x, worst host {float(scaled['worst_host_p99']) / base:.2f}x"  # type: ignore[arg-type]
        " (goal <= 3x)"
    )
    for r in (baseline, scaled):
        if r["errors"]:
            print(f"errors ({r['hosts']} hosts): {r['errors'][:5]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
