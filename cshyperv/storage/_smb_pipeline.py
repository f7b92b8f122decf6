"""Pipelined SMB reads and writes: several requests in flight instead of one round trip at a time.

smbclient's file objects send one READ or WRITE and wait for its answer before the next, so the
link idles while the server works and the server idles while we prepare the next 8 MiB. These
readers and writers keep up to ``depth`` requests outstanding on the same open file, in order,
within the credits the server has granted (SMB2 credit accounting: one credit per 64 KiB), asking
for more credits as they go.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["PipelinedReader", "PipelinedWriter"]

_CREDIT_BYTES = 64 * 1024
DEPTH = 4


def _charge(size: int) -> int:
    return max(0, size - 1) // _CREDIT_BYTES + 1


def _available(connection: Any) -> int:
    window = connection.sequence_window
    return int(window["high"] - window["low"])


class PipelinedWriter:
    """Writes sequentially to an open SMB file (``raw``: smbclient's unbuffered SMBFileIO)."""

    transport = "smbprotocol"

    def __init__(self, raw: Any, depth: int = DEPTH) -> None:
        self._raw = raw
        self._open = raw.fd
        self._conn = raw.fd.connection
        self._depth = depth
        self._chunk = int(self._conn.max_write_size)
        self._offset = 0
        self._inflight: deque[tuple[Any, Any, int]] = deque()
        self._pending = bytearray()

    def write(self, data: bytes) -> int:
        if not self._pending and len(data) == self._chunk:
            # The common case (copies read in chunks of the negotiated size): no copy at all.
            self._send(data)
            return len(data)
        self._pending += data
        while len(self._pending) >= self._chunk:
            self._send(bytes(self._pending[: self._chunk]))
            del self._pending[: self._chunk]
        return len(data)

    def _send(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        whole = True
        while view:
            # Wait for answers (which carry credits back) while the window is full.
            while self._inflight and (
                len(self._inflight) >= self._depth or _available(self._conn) < _charge(len(view))
            ):
                self._complete_one()
            # With nothing in flight and too few credits (a fresh session starts with a few dozen),
            # send what the credits allow and ask for more.
            size = min(len(view), max(1, _available(self._conn)) * _CREDIT_BYTES)
            piece = chunk if whole and size == len(chunk) else bytes(view[:size])
            whole = False
            message, receive = self._open.write(piece, offset=self._offset, send=False)
            request = self._conn.send(
                message,
                sid=self._open.tree_connect.session.session_id,
                tid=self._open.tree_connect.tree_connect_id,
                # Ask for enough credits to keep ``depth`` full-size requests in flight.
                credit_request=_charge(self._chunk) * 2,
            )
            self._inflight.append((request, receive, size))
            self._offset += size
            view = view[size:]

    def _complete_one(self) -> None:
        request, receive, size = self._inflight.popleft()
        written = receive(request)
        if written != size:
            raise OSError(5, f"short SMB write ({written} of {size} bytes)")

    def flush(self) -> None:
        if self._pending:
            self._send(bytes(self._pending))
            self._pending.clear()
        while self._inflight:
            self._complete_one()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._open.end_of_file = max(self._open.end_of_file, self._offset)
            self._raw.close()

    def abort(self) -> None:
        """Close without waiting for what is in flight (the connection may be gone)."""
        self._inflight.clear()
        self._raw.close()


class PipelinedReader:
    """Reads an open SMB file from start to end, ``depth`` reads ahead."""

    transport = "smbprotocol"

    def __init__(self, raw: Any, depth: int = DEPTH) -> None:
        self._raw = raw
        self._open = raw.fd
        self._conn = raw.fd.connection
        self._depth = depth
        self._chunk = int(self._conn.max_read_size)
        self._size = int(raw.fd.end_of_file)
        self._next = 0
        self._inflight: deque[tuple[Any, Any, int]] = deque()
        self._buffer = bytearray()

    def _issue(self) -> None:
        while self._next < self._size and len(self._inflight) < self._depth:
            available = _available(self._conn)
            length = min(self._chunk, self._size - self._next)
            if available < _charge(length):
                if self._inflight:
                    return  # answers bring credits back
                length = min(max(1, available) * _CREDIT_BYTES, self._size - self._next)
            message, receive = self._open.read(self._next, length, send=False)
            request = self._conn.send(
                message,
                sid=self._open.tree_connect.session.session_id,
                tid=self._open.tree_connect.tree_connect_id,
                credit_request=_charge(self._chunk) * 2,
            )
            self._inflight.append((request, receive, length))
            self._next += length

    def _take(self) -> bytes:
        request, receive, length = self._inflight.popleft()
        data: bytes = receive(request)
        if len(data) != length:
            # The reads ahead assumed full answers; a short one means the file changed under us
            # (files only come short at their end).
            self._inflight.clear()
            raise OSError(5, f"short SMB read ({len(data)} of {length} bytes): the file changed while read")
        return data

    def read(self, size: int = -1) -> bytes:
        want = self._size if size < 0 else size
        if not self._buffer and self._inflight and self._inflight[0][2] == want:
            # The common case (reads of the negotiated size): hand over the answer as it is.
            data = self._take()
            self._issue()
            return data
        while len(self._buffer) < want:
            self._issue()
            if not self._inflight:
                break
            self._buffer += self._take()
            self._issue()
        result = bytes(self._buffer[:want])
        del self._buffer[:want]
        return result

    def close(self) -> None:
        try:
            for request, receive, _length in self._inflight:
                receive(request)
        finally:
            self._inflight.clear()
            self._raw.close()

    def abort(self) -> None:
        self._inflight.clear()
        self._raw.close()
