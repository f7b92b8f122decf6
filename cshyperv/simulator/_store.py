"""SQLite state of the simulator, shared by every process that opens the same file.

Each operation opens its own connection and runs in one ``BEGIN IMMEDIATE`` transaction, so
concurrent writers (threads of one agent, or one process per Extensions call) serialise on the
database lock instead of racing: two creates of the same VM yield one row. WAL mode lets readers
proceed while a writer works.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hosts (
    name TEXT PRIMARY KEY,
    cpus INTEGER NOT NULL,
    sockets INTEGER NOT NULL,
    mhz INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    ip TEXT NOT NULL,
    local_capacity_bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vms (
    name TEXT PRIMARY KEY,
    uuid TEXT NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    generation INTEGER NOT NULL,
    cpus INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    spec TEXT NOT NULL,
    notes TEXT,
    created REAL NOT NULL,
    started REAL
);
CREATE TABLE IF NOT EXISTS vm_disks (
    vm TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (vm, path)
);
CREATE TABLE IF NOT EXISTS vm_nics (
    vm TEXT NOT NULL,
    mac TEXT NOT NULL,
    switch TEXT,
    vlan INTEGER,
    device_id INTEGER NOT NULL,
    PRIMARY KEY (vm, mac)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    vm TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created TEXT NOT NULL,
    parent TEXT,
    description TEXT,
    with_memory INTEGER NOT NULL,
    saved TEXT NOT NULL,
    PRIMARY KEY (vm, name)
);
"""


class Store:
    """Opens connections to one simulator database and creates its tables on first use."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        self._ready = False
        self._ready_lock = threading.Lock()
        # One connection per thread, kept: opening SQLite costs more than most operations here.
        self._local = threading.local()
        # Bumped by every write transaction of this process: SQLite's data_version tells a
        # connection about other connections' commits (other threads, other processes) only,
        # never about its own, so this counter covers a thread's own writes.
        self._writes = 0
        # Every operation opens its own connection, so an in-memory database would be empty each time.
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            raise ValueError("the simulator needs a database file that its processes share")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        return conn

    def _initialise(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
            finally:
                conn.close()
            self._ready = True

    def _thread_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for a single statement outside :meth:`transaction`: SQLite
        runs one statement in autocommit mode as its own (read) transaction."""
        if not self._ready:
            self._initialise()
        return self._thread_connection()

    def version(self) -> tuple[int, int]:
        """What this thread's reads would see, as a comparable token: equal tokens mean no
        commit anywhere (this process or another one) came between them, so whatever was read
        at the first can be reused at the second (:meth:`SimulatorHypervisor.get_vm`)."""
        row = self.connection().execute("PRAGMA data_version").fetchone()
        return self._writes, int(row[0])

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on any exception.

        Write transactions take the database lock up front (``BEGIN IMMEDIATE``), so concurrent
        writers queue instead of failing half-way; read transactions do not block writers.
        """
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            if write:
                # Also before COMMIT: a read this thread made inside its own transaction (it
                # saw the uncommitted change) must not outlive a rollback.
                self._writes += 1
        conn.execute("COMMIT")
        if write:
            self._writes += 1
