"""The HTTPS agent's transport: bad input always gets a well-formed answer, and the agent keeps serving."""

from __future__ import annotations

import http.client
import json
import logging
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cshyperv.client import DirectConnectClient
from cshyperv.commands import CheckHealthCommand, ReadyCommand
from cshyperv.frontends.direct_connect import LIVENESS_TEXT, AgentServer
from cshyperv.frontends.tls import ensure_self_signed
from cshyperv.resource import ServerResource
from cshyperv.simulator import SimulatorHypervisor

PASSWORD = "S3cr3t-Pa55"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentServer]:
    root = tmp_path_factory.mktemp("http")
    sim = SimulatorHypervisor(root / "sim.db")
    backend = ServerResource(sim, sim.storage_access())
    with AgentServer(backend, state_dir=root, max_body_bytes=64 * 1024) as agent:
        yield agent


def post(port: int, path: str, body: bytes, content_type: str | None = "application/json") -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=30)
    headers = {"content-type": content_type} if content_type else {}
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def answer_of(data: bytes) -> dict[str, object]:
    ((fqcn, answer),) = json.loads(data)[0].items()
    assert fqcn.endswith("Answer")
    return answer  # type: ignore[no-any-return]


API = "/api/HypervResource/"
READY = API + "com.cloud.agent.api.ReadyCommand"
START = API + "com.cloud.agent.api.StartCommand"


@pytest.mark.parametrize(
    ("path", "body", "content_type", "expected"),
    [
        (READY, b'{"contextMap": ', "application/json", "invalid JSON"),
        (START, b'{"vm": {"cpus": "four"}}', "application/json", "$.vm.cpus"),
        (START, b'{"wait": 0}', "application/json", "required member is missing at $.vm"),
        (READY, b"[" * 20_000 + b"]" * 20_000, "application/json", "nested too deeply"),
        (READY, b"{}", "text/xml", "expected content type application/json"),
        (READY, b'{"_details": "\xe9t\xe9"}', "application/json; charset=utf-8", "not valid utf-8"),
        (READY, b"x" * (65 * 1024), "application/json", "request body exceeds 65536 bytes"),
        (API + "com.cloud.agent.api.NoSuchCommand", b"{}", "application/json", "Unsupported command issued"),
        (API + "not%20a;class", b"{}", "application/json", "does not name a Java class"),
    ],
)
def test_bad_requests_get_failed_answers(
    server: AgentServer, path: str, body: bytes, content_type: str, expected: str
) -> None:
    status, data = post(server.port, path, body, content_type)
    assert status == 200
    answer = answer_of(data)
    assert answer["result"] is False
    assert expected in str(answer["details"])
    # ...and the agent still serves.
    status, data = post(server.port, READY, b"{}")
    assert status == 200 and answer_of(data)["result"] is True


def test_latin1_body_without_charset_is_read_like_java_sends_it(server: AgentServer) -> None:
    status, data = post(server.port, READY, '{"_details": "caf\u00e9"}'.encode("iso-8859-1"))
    assert status == 200 and answer_of(data)["result"] is True


def test_liveness_and_methods(server: AgentServer) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ssl._create_unverified_context())
    conn.request("GET", "/api/HypervResource")
    response = conn.getresponse()
    assert (response.status, response.read().decode()) == (200, LIVENESS_TEXT)
    conn.request("GET", READY)
    response = conn.getresponse()
    response.read()
    assert response.status == 405
    conn.request("GET", "/elsewhere")
    response = conn.getresponse()
    response.read()
    assert response.status == 404
    conn.close()


def test_client_follows_javas_rules(server: AgentServer) -> None:
    with DirectConnectClient("127.0.0.1", server.port) as client:
        assert client.alive()
        assert client.execute(CheckHealthCommand()).result
    refused = DirectConnectClient("127.0.0.1", 1, timeout=2).execute(ReadyCommand())
    assert type(refused).__name__ == "UnsupportedAnswer" and not refused.result
    assert refused.details == (
        "Unsupported command issued: com.cloud.agent.api.ReadyCommand.  Are you sure you got the right type of server?"
    )


def test_allow_list_refuses_other_clients(tmp_path: Path) -> None:
    sim = SimulatorHypervisor(tmp_path / "sim.db")
    backend = ServerResource(sim, sim.storage_access())
    # Refused at accept time: not even a TLS handshake (tests/integration/test_agent_transport.py).
    with (
        AgentServer(backend, state_dir=tmp_path, allowed_clients=["10.0.0.0/8"]) as agent,
        pytest.raises(OSError),
    ):
        post(agent.port, READY, b"{}")


def test_access_log_has_no_bodies_or_secrets(server: AgentServer, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps(
        {"vm": {"name": "v", "vncPassword": PASSWORD}, "secondaryStorages": [f"cifs://h/s?password={PASSWORD}"]}
    )
    with caplog.at_level(logging.INFO, logger="cshyperv.agent.access"):
        post(server.port, START, body.encode())
        post(server.port, START, b'{"vm": {"cpus": "' + PASSWORD.encode() + b'"}}')
        assert len(access_lines(caplog, 2)) == 2
    assert "com.cloud.agent.api.StartCommand 200" in caplog.text
    assert PASSWORD not in caplog.text


def access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    """The access log lines, once ``count`` are there: the agent writes each one just after its
    response has gone, so the client may read the answer first (a bounded wait)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "cshyperv.agent.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_access_log_line_per_request(server: AgentServer, caplog: pytest.LogCaptureFixture) -> None:
    """One line per request: client, method, FQCN, status, duration, answer result."""
    with caplog.at_level(logging.INFO, logger="cshyperv.agent.access"):
        post(server.port, READY, b"{}")
        post(server.port, API + "com.cloud.agent.api.NoSuchCommand", b"{}")
        lines = access_lines(caplog, 2)
    assert len(lines) == 2
    assert re.fullmatch(r"127\.0\.0\.1 POST com\.cloud\.agent\.api\.ReadyCommand 200 [0-9.]+ms result=true", lines[0])
    assert lines[1].endswith("result=false")


@pytest.mark.parametrize(
    "raw_path", ["%0d%0a127.0.0.1%20POST%20forged%20200%201ms%20result=true", "a%00b", "x%e2%80%a8y", "%1b[31m"]
)
def test_access_log_escapes_control_characters(
    server: AgentServer, caplog: pytest.LogCaptureFixture, raw_path: str
) -> None:
    """D11: percent-encoded CR, LF, NUL, U+2028 and ESC reach the log escaped, never raw."""
    with caplog.at_level(logging.INFO, logger="cshyperv.agent.access"):
        status, _ = post(server.port, API + "com.cloud." + raw_path, b"{}")
        assert status == 200
        lines = access_lines(caplog, 1)
    (line,) = lines
    assert line.isascii() and line.isprintable(), repr(line)
    assert "\\r\\n" in line or "\\x00" in line or "\\u2028" in line or "\\x1b" in line


def test_self_signed_certificate_is_made_once(tmp_path: Path) -> None:
    cert, key = ensure_self_signed(tmp_path, ["hv01.lab"])
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.stat().st_mode & 0o777 == 0o600
    again = ensure_self_signed(tmp_path)
    assert again == (cert, key) and cert.read_bytes() == again[0].read_bytes()


def test_client_maps_404_like_java() -> None:
    """HypervDirectConnectResource turns a 404 into an UnsupportedAnswer naming the path."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotAnAgent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotAnAgent)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with DirectConnectClient("127.0.0.1", httpd.server_address[1], tls=False) as client:
            answer = client.execute(ReadyCommand())
    finally:
        httpd.shutdown()
    assert type(answer).__name__ == "UnsupportedAnswer" and not answer.result
    assert answer.details == (
        "Unsupported command /api/HypervResource/com.cloud.agent.api.ReadyCommand."
        "  Are you sure you got the right type of server?"
    )
