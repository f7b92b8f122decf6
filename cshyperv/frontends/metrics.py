"""Prometheus metrics for the agent: requests, latency, WinRM exchanges, storage copies.

Off by default; ``cshyperv agent serve --metrics 127.0.0.1:9250`` (or ``metrics = ...`` in the
config file's ``[defaults]``) serves them in Prometheus' text format on a separate admin
listener, never on the agent's own port (which CloudStack reaches). Every metric carries a
``host`` label: the ``[[host]]`` name, so one scrape shows every Hyper-V host the process serves.
The format is written by the official client library (``prometheus-client``, in the ``agent``
extra); each :class:`AgentMetrics` owns its own registry, so embedders and tests can run several.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["AgentMetrics"]

# Latency buckets in seconds: a ping answers in milliseconds, a template copy in minutes.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class AgentMetrics:
    """The agent's metrics in a registry of their own.

    The recording methods are cheap and thread-safe (they run on the agent's worker threads).
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cshyperv_requests",
            "Commands answered, by Java class and result (success, failure, unsupported, refused).",
            ["host", "command", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cshyperv_request_duration_seconds",
            "Time from request to answer, by Java class.",
            ["host", "command"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        # What runners and the operations layer count themselves, read at scrape time.
        self._watched: dict[str, tuple[Any, Any]] = {}
        self._watched_lock = threading.Lock()
        self.registry.register(_HostCollector(self))
        self.hosts = Gauge("cshyperv_hosts", "Hyper-V hosts served by this process.", registry=self.registry)
        from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, STARTUP_FQCN, builtin_registry

        self._known = frozenset([*builtin_registry(), STARTUP_FQCN, HOST_VM_STATE_REPORT_FQCN])

    def request(self, host: str, fqcn: str, result: str, seconds: float) -> None:
        """One answered request. Classes the registry does not know count as ``other``.

        Labels are the class's short name, and only for known classes: a client sending made-up
        class names must not grow the label set (and the process's memory) without bound.
        """
        name = fqcn.rsplit(".", 1)[-1] if fqcn in self._known else "other"
        self.requests.labels(host, name, result).inc()
        self.latency.labels(host, name).observe(seconds)

    def observer(self, host: str) -> Callable[[str, str, float], None]:
        """The agent app's per-request hook for ``host`` (see ``DirectConnectApp(observer=...)``)."""
        results = {"true": "success", "false": "failure"}

        def observe(fqcn: str, result: str, seconds: float) -> None:
            self.request(host, fqcn, results.get(result, "refused"), seconds)

        return observe

    def watch(self, host: str, *, runner: Any = None, operations: Any = None) -> None:
        """Report ``runner``'s WinRM counters (``exchanges``, ``errors``, ``open_shells``) and
        ``operations``' copy counters (``copies_in_flight``, ``copied_bytes``) under ``host``.
        Either may be None, or lack some counters (a plug-in without WinRM)."""
        with self._watched_lock:
            self._watched[host] = (runner, operations)

    def unwatch(self, host: str) -> None:
        with self._watched_lock:
            self._watched.pop(host, None)

    def _snapshot(self) -> list[tuple[str, Any, Any]]:
        with self._watched_lock:
            return [(host, runner, ops) for host, (runner, ops) in sorted(self._watched.items())]

    def exposition(self) -> bytes:
        """The current metrics in Prometheus' text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    def serve(self, address: str, port: int) -> Any:
        """Start the admin listener in a daemon thread; returns the server (``shutdown()`` stops it)."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server


class _HostCollector:
    """Turns the counters runners and the operations layer keep into Prometheus families."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []  # no fixed description: families depend on what is watched

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        exchanges = CounterMetricFamily("cshyperv_winrm_exchanges", "HTTP exchanges with WinRM.", labels=["host"])
        errors = CounterMetricFamily(
            "cshyperv_winrm_errors", "Failed host operations, by error type.", labels=["host", "type"]
        )
        shells = GaugeMetricFamily(
            "cshyperv_winrm_open_shells", "WinRM shells or runspace pools open.", labels=["host"]
        )
        in_flight = GaugeMetricFamily("cshyperv_copies_in_flight", "Storage copies running now.", labels=["host"])
        copied = CounterMetricFamily("cshyperv_copied_bytes", "Bytes copied by storage copies.", labels=["host"])
        for host, runner, ops in self.metrics._snapshot():
            if runner is not None:
                if hasattr(runner, "exchanges"):
                    exchanges.add_metric([host], float(runner.exchanges))
                for kind, count in sorted(dict(getattr(runner, "errors", {})).items()):
                    errors.add_metric([host, str(kind)], float(count))
                if hasattr(runner, "open_shells"):
                    shells.add_metric([host], float(runner.open_shells))
            if ops is not None:
                in_flight.add_metric([host], float(getattr(ops, "copies_in_flight", 0)))
                copied.add_metric([host], float(getattr(ops, "copied_bytes", 0)))
        yield from (exchanges, errors, shells, in_flight, copied)
