"""Several Hyper-V hosts from one agent process: one listener and one plug-in per ``[[host]]``.

Each host gets its own uvicorn server on its own address, its own plug-in instance (its own
WinRM shell) and its own worker threads (``workers``), so a host whose WinRM is slow or failing
ties up only its own threads: the other hosts' answers do not wait for it. All servers share one
asyncio event loop in a background thread; the main thread handles signals:

* ``SIGHUP`` reloads the file. Hosts added are started, hosts removed are stopped, hosts changed
  are restarted; hosts unchanged are not touched. A stopped server lets its in-flight requests
  finish before it closes. A file with an error is logged (naming the file, host and key) and
  the running configuration is kept.
* ``SIGTERM``/``SIGINT`` stop every host the same graceful way, then close the plug-ins.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs

from cshyperv.errors import ConfigError, CSHyperVError
from cshyperv.frontends.agent_config import AgentConfig, HostConfig, load_config

__all__ = ["HostBuilder", "MultiHostAgent", "build_host"]

log = logging.getLogger("cshyperv.agent")

#: Builds what serves one host: (the agent backend, a callable that releases it).
HostBuilder = Callable[[HostConfig], "tuple[Any, Callable[[], None]]"]


def build_host(host: HostConfig) -> tuple[Any, Callable[[], None]]:
    """The resource layer over the host's plug-in, and the plug-in's ``close``.

    Raises :class:`~cshyperv.errors.ConfigError` naming the host when the plug-in cannot be
    created from its settings.
    """
    from cshyperv.plugins import default_plugins
    from cshyperv.resource import ResourceSettings, ServerResource

    settings = dict(host.settings)
    if host.hypervisor == "simulator":
        settings.setdefault("state", str(host.state_dir / "simulator.db"))
        settings.setdefault("host", host.name)
    try:
        plugin = default_plugins().load(host.hypervisor, settings)
    except (CSHyperVError, ValueError) as exc:
        raise ConfigError(str(exc), host=host.name, key="hypervisor") from None
    if plugin.storage is None:
        plugin.close()
        raise ConfigError(f"the {host.hypervisor} plug-in offers no storage access", host=host.name, key="hypervisor")
    resource = ServerResource(plugin, settings=ResourceSettings(default_switch=host.default_switch))
    return resource, plugin.close


@attrs.define
class _Served:
    host: HostConfig
    server: Any
    done: Future[None]
    close: Callable[[], None]
    port: int = 0


class MultiHostAgent:
    """Serves every host of a config file; :meth:`reload` applies the file again.

    Use :meth:`run` in a program's main thread (it handles the signals), or :meth:`start` /
    :meth:`stop` (or the context manager) to embed it, as the tests do.
    """

    def __init__(
        self,
        config_file: str | Path | AgentConfig,
        *,
        builder: HostBuilder = build_host,
        metrics: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        # A file is read again on reload; a config built in code (the single-host command line) is fixed.
        self._fixed = config_file if isinstance(config_file, AgentConfig) else None
        self.config_file = config_file.file if isinstance(config_file, AgentConfig) else str(config_file)
        self.builder = builder
        self.metrics = metrics
        self.environ = environ
        self.config: AgentConfig | None = None
        self._served: dict[str, _Served] = {}
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one reload at a time

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> MultiHostAgent:
        """Load the file and start every host; raises ConfigError (nothing left running) on error."""
        config = self._load()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cshyperv-agent-loop", daemon=True)
        self._thread.start()
        try:
            self._apply(config)
        except BaseException:
            self.stop()
            raise
        return self

    def reload(self) -> bool:
        """Apply the file again; False (the running hosts untouched) if it has an error."""
        with self._lock:
            try:
                self._apply(self._load())
            except ConfigError as exc:
                log.error("configuration not reloaded, the running one is kept: %s", exc)
                return False
        log.warning("configuration reloaded: %d host(s)", len(self._served))
        return True

    def _load(self) -> AgentConfig:
        return self._fixed if self._fixed is not None else load_config(self.config_file, environ=self.environ)

    def stop(self) -> None:
        """Stop every host (in-flight requests finish first), close the plug-ins, stop the loop."""
        for name in list(self._served):
            self._stop_host(name)
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._thread = None
        if self.metrics is not None:
            self.metrics.hosts.set(0)

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads. For the main thread of a program."""
        stop = threading.Event()
        hup = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGHUP, lambda *_: hup.set())
        self.start()
        try:
            while not stop.is_set():
                if hup.wait(0.2):
                    hup.clear()
                    self.reload()
        finally:
            self.stop()

    def __enter__(self) -> MultiHostAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what runs -------------------------------------------------------------------------------

    def port(self, name: str) -> int:
        """The port host ``name`` listens on (useful with ``listen = "127.0.0.1:0"``)."""
        return self._served[name].port

    @property
    def hosts(self) -> list[str]:
        return sorted(self._served)

    def _apply(self, config: AgentConfig) -> None:
        wanted = {host.name: host for host in config.hosts}
        changed = [n for n, h in wanted.items() if n in self._served and self._served[n].host != h]
        added = [n for n in wanted if n not in self._served]
        removed = [n for n in self._served if n not in wanted]
        # Build every new plug-in before touching what runs, so that a host whose settings fail
        # leaves the running configuration exactly as it was.
        built: dict[str, tuple[Any, Callable[[], None]]] = {}
        try:
            for name in (*changed, *added):
                built[name] = self.builder(wanted[name])
        except BaseException:
            for _backend, close in built.values():
                _close_quietly(close)
            raise
        for name in (*removed, *changed):
            self._stop_host(name)
        failed: ConfigError | None = None
        for name in (*changed, *added):
            backend, close = built[name]
            try:
                self._start_host(wanted[name], backend, close)
            except ConfigError as exc:
                _close_quietly(close)
                failed = failed or exc
        self.config = config
        if self.metrics is not None:
            self.metrics.hosts.set(len(self._served))
        if failed is not None:
            raise failed

    def _start_host(self, host: HostConfig, backend: Any, close: Callable[[], None]) -> None:
        import uvicorn

        from cshyperv.frontends.direct_connect import DirectConnectApp, _uvicorn_config, graceful_server_class

        app = DirectConnectApp(
            backend,
            allowed_clients=host.allow,
            access_log=logging.getLogger(f"cshyperv.agent.access.{host.name}"),
            max_workers=host.workers,
            observer=self.metrics.observer(host.name) if self.metrics is not None else None,
        )
        try:
            config, _guard = _uvicorn_config(
                app,
                host=host.listen_host,
                port=host.port,
                tls=host.tls,
                certfile=host.cert,
                keyfile=host.key,
                state_dir=host.state_dir,
                allowed_clients=host.allow,
                limits=host.limits,
                client_ca=host.client_ca,
            )
        except (ValueError, OSError) as exc:  # unusable TLS files, a bad allow entry
            raise ConfigError(str(exc), host=host.name, key="cert") from None
        server = graceful_server_class(uvicorn)(config)
        done = asyncio.run_coroutine_threadsafe(_serve(server), self._loop)
        deadline = time.monotonic() + 30
        while not server.started:
            if done.done() or time.monotonic() > deadline:
                server.should_exit = True
                raise ConfigError(f"cannot listen on {host.listen}", host=host.name, key="listen")
            time.sleep(0.01)
        port = int(next(s.getsockname()[1] for srv in server.servers for s in srv.sockets))
        self._served[host.name] = _Served(host=host, server=server, done=done, close=close, port=port)
        if self.metrics is not None:
            self.metrics.watch(host.name, runner=_runner_of(backend), operations=getattr(backend, "ops", None))
        log.warning("host %s: listening on %s (%s)", host.name, host.listen, host.hypervisor)

    def _stop_host(self, name: str) -> None:
        served = self._served.pop(name)
        if self.metrics is not None:
            self.metrics.unwatch(name)
        served.server.should_exit = True
        try:
            served.done.result(timeout=60)
        except Exception:  # a server that failed already has nothing left to stop
            log.debug("host %s: server ended with an error", name, exc_info=True)
        _close_quietly(served.close)
        log.warning("host %s: stopped", name)


def _runner_of(backend: Any) -> Any:
    """The WinRM/PSRP runner behind a resource, for its counters (None for other plug-ins)."""
    ops = getattr(backend, "ops", None)
    plugin = getattr(ops, "plugin", None)
    return getattr(getattr(plugin, "hypervisor", None), "runner", None)


async def _serve(server: Any) -> None:
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits this way when it cannot bind; the caller reports it
        return


def _close_quietly(close: Callable[[], None]) -> None:
    try:
        close()
    except Exception:
        log.warning("closing a plug-in failed", exc_info=True)
