"""Prometheus metrics for the agent: requests, latency, WinRM exchanges, storage copies.

Off by default; ``cshyperv agent serve --metrics 127.0.0.1:9250`` (or ``metrics = ...`` in the
config file's ``[defaults]``) serves them in Prometheus' text format on a separate admin
listener, never on the agent's own port (which CloudStack reaches). Every metric carries a
``host`` label: the ``[[host]]`` name, so one scrape shows every Hyper-V host the process serves.
The format is written by the official client library (``prometheus-client``, in the ``agent``
extra); each :class:`AgentMetrics` owns its own registry, so embedders and tests can run several.
"""

from __future__ import annotations

from collections.abc import Callable
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
        self.winrm_exchanges = Counter(
            "cshyperv_winrm_exchanges",
            "HTTP exchanges with WinRM.",
            ["host"],
            registry=self.registry,
        )
        self.winrm_errors = Counter(
            "cshyperv_winrm_errors",
            "Failed operations on the host, by error type.",
            ["host", "type"],
            registry=self.registry,
        )
        self.open_shells = Gauge(
            "cshyperv_winrm_open_shells",
            "WinRM shells or runspace pools open.",
            ["host"],
            registry=self.registry,
        )
        self.copies_in_flight = Gauge(
            "cshyperv_copies_in_flight", "Storage copies running now.", ["host"], registry=self.registry
        )
        self.copied_bytes = Counter(
            "cshyperv_copied_bytes", "Bytes written by storage copies.", ["host"], registry=self.registry
        )
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

    def exposition(self) -> bytes:
        """The current metrics in Prometheus' text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    def serve(self, address: str, port: int) -> Any:
        """Start the admin listener in a daemon thread; returns the server (``shutdown()`` stops it)."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server
