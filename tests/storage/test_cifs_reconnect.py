"""A server that drops connections: set-up is tried twice (not forever), and the calls after a
lost connection reconnect, on either library's control path. Real Samba behind a loopback TCP
relay that can drop and cut."""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest

from cshyperv.errors import StorageConnectionError
from cshyperv.storage import CifsStorageAdaptor
from cshyperv.testing.servers import SambaServer


class Relay:
    """Forwards 127.0.0.1:<port> to the Samba server; drops the next ``drop`` connections as
    soon as they are accepted, and ``cut()`` closes every connection relayed so far."""

    def __init__(self, upstream: int) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.drop = 0
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                dropping = self.drop > 0
                self.drop -= dropping
            if dropping:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self._upstream))
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            doomed, self._open = self._open, []
        for s in doomed:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()


@pytest.fixture
def relayed(samba: SambaServer, data_path: str) -> Iterator[tuple[Relay, CifsStorageAdaptor, SambaServer]]:
    """An adaptor through the relay; its control operations go through ``data_path``'s library."""
    folder = f"r-{uuid.uuid4().hex[:8]}"
    (samba.share_path("share") / folder).mkdir()
    (samba.share_path("share") / folder / "here.txt").write_bytes(b"here")
    relay = Relay(samba.port)
    query = urllib.parse.urlencode({"user": samba.username, "password": samba.password})
    adaptor = CifsStorageAdaptor(
        f"cifs://127.0.0.1:{relay.port}/share/{folder}?{query}", data_path=data_path, connection_timeout=10
    )
    yield relay, adaptor, samba
    adaptor.close()
    relay.close()


def test_a_connection_dropped_while_being_set_up_is_set_up_once_more(
    relayed: tuple[Relay, CifsStorageAdaptor, SambaServer],
) -> None:
    relay, adaptor, _ = relayed
    relay.drop = 1
    assert adaptor.stat("here.txt").size == 4
    assert relay.accepted == 2


def test_set_up_is_tried_twice_not_forever(relayed: tuple[Relay, CifsStorageAdaptor, SambaServer]) -> None:
    relay, adaptor, samba = relayed
    relay.drop = 5
    with pytest.raises(StorageConnectionError) as info:
        adaptor.stat("here.txt")
    assert relay.accepted == 2
    assert samba.password not in str(info.value)


def test_after_a_lost_connection_the_next_call_reconnects(
    relayed: tuple[Relay, CifsStorageAdaptor, SambaServer],
) -> None:
    relay, adaptor, _ = relayed
    assert adaptor.listdir() == ["here.txt"]
    assert relay.accepted == 1
    relay.cut()
    # A call racing the loss may fail (requests are never sent twice); the ones after it work.
    with contextlib.suppress(StorageConnectionError):
        adaptor.stat("here.txt")
    assert adaptor.stat("here.txt").size == 4
    assert relay.accepted == 2
