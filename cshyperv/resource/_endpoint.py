"""The transport-neutral agent entry: (FQCN, body bytes, content type) -> answer bytes.

Every routing rule of CloudStack's direct-connect protocol lives here, so that any transport
(the HTTPS agent, a queue worker, the JSON-lines example in ``examples/``) answers byte for byte
the same:

* the FQCN must look like a Java class name (no ``/``, no ``..``; at most 300 characters),
  else a failed Answer;
* ``com.cloud.agent.api.StartupCommand`` carries a wrapped command array and is answered with
  one (the filled-in StartupRoutingCommand, plus local storage);
* ``com.cloud.agent.api.HostVmStateReportCommand`` (no Java class) is answered
  ``[{"<vm>": "PowerOn"}, ...]``;
* an FQCN the registry does not know gets CloudStack's ``UnsupportedAnswer`` (before its body
  is parsed: a newer management server's command is not "bad JSON");
* any other body is decoded as that command and run by the backend; its Answer comes back as
  ``[{"<Answer FQCN>": {...}}]``.

Bad input (content type, charset, JSON, types) is a failed Answer naming the JSON path; nothing
here raises.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Final

import attrs

from cshyperv._redact import redact_text
from cshyperv.commands import UnsupportedAnswer
from cshyperv.dispatch import failed_answer
from cshyperv.errors import CSHyperVError, WireError
from cshyperv.resource._backend import AgentBackend
from cshyperv.wire import HOST_VM_STATE_REPORT_FQCN, STARTUP_FQCN, Answer, Codec, default_codec

__all__ = ["QUICK_BODY_LIMIT", "Reply", "handle_request", "handle_request_quickly"]

log = logging.getLogger("cshyperv.resource")

MAX_FQCN = 300
_FQCN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*")
_JSON_TYPES = ("application/json", "text/json", "application/x-json")
# The charsets a body may declare (Python codec names).
_CHARSETS = {"utf-8": "utf-8", "iso-8859-1": "iso-8859-1", "us-ascii": "ascii"}
# What Java's StringEntity(String) encodes with when the header names no charset.
_JAVA_DEFAULT_CHARSET = "iso-8859-1"


@attrs.frozen
class Reply:
    """The answer bytes for one request, and whether it succeeded (for access logs)."""

    body: bytes
    ok: bool


def handle_request(
    backend: AgentBackend, fqcn: str, body: bytes, content_type: str | None = None, *, codec: Codec | None = None
) -> Reply:
    """Answer one request of the direct-connect protocol; never raises (see the module docstring).

    ``content_type`` is the request's media type with its parameters (``application/json;
    charset=utf-8``), or None when the transport has none.
    """
    codec = codec if codec is not None else default_codec()
    if len(fqcn) > MAX_FQCN or not _FQCN.fullmatch(fqcn):
        return _failed(codec, Answer(result=False, details="the request path does not name a Java class"))
    try:
        text = decode_body(body, content_type)
        if fqcn == STARTUP_FQCN:
            commands = codec.decode_commands(text)
            return Reply(codec.encode_commands(backend.startup(commands)), True)
        if fqcn == HOST_VM_STATE_REPORT_FQCN:
            return Reply(codec.encode_vm_states(backend.host_vm_states()), True)
        if fqcn not in codec.registry:
            return _failed(codec, UnsupportedAnswer.for_command(fqcn))
        command = codec.decode_command(fqcn, text)
    except Exception as exc:
        # Decoding, or the two pseudo-commands (which have no Answer class of their own).
        if not isinstance(exc, CSHyperVError):
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            log.error("request for %s failed:\n%s", fqcn, redact_text(text).rstrip())
        return _failed(codec, failed_answer(exc))
    answer = backend.execute(command)
    try:
        return Reply(codec.encode_answers([answer]), bool(answer.result))
    except WireError as exc:
        return _failed(codec, failed_answer(exc))


QUICK_BODY_LIMIT: Final = 64 * 1024
"""The largest body :func:`handle_request_quickly` decodes: the decode runs on the caller's
thread (an event loop) and must stay short. StartCommand bodies are a few kilobytes."""


def handle_request_quickly(
    backend: AgentBackend, fqcn: str, body: bytes, content_type: str | None = None, *, codec: Codec | None = None
) -> Reply | None:
    """:func:`handle_request`'s reply when the backend can make it without waiting, or None.

    For a transport on an event loop: it calls this on the loop and, on None, :func:`handle_request`
    on a worker thread. Only the commands the backend lists in its optional ``quick_commands``
    are tried, through its ``execute_quickly`` (:meth:`ServerResource.execute_quickly`), with a
    body of at most :data:`QUICK_BODY_LIMIT` bytes; anything unusual (a body that does not
    decode, an answer that does not encode) is left to :func:`handle_request`, which answers and
    logs it. Never raises.
    """
    quick = getattr(backend, "quick_commands", None)
    execute = getattr(backend, "execute_quickly", None)
    if not quick or execute is None or fqcn not in quick or len(body) > QUICK_BODY_LIMIT:
        return None
    codec = codec if codec is not None else default_codec()
    try:
        command = codec.decode_command(fqcn, decode_body(body, content_type))
    except Exception:
        return None
    answer = execute(command)
    if not isinstance(answer, Answer):
        return None
    try:
        return Reply(codec.encode_answers([answer]), bool(answer.result))
    except WireError:
        return None


def _failed(codec: Codec, answer: Answer) -> Reply:
    return Reply(codec.encode_answers([answer]), False)


def decode_body(body: bytes, content_type: str | None) -> str:
    """Text of the body, read as Java wrote it: HypervDirectConnectResource posts
    ``new StringEntity(json)`` with content type ``application/json`` and no charset, which is
    ISO-8859-1 (trying UTF-8 first would misread Latin-1 text whose bytes happen to be valid
    UTF-8). A declared charset must be utf-8, iso-8859-1 or us-ascii; any other is refused: a
    codec such as punycode is slow on attacker text, and no CloudStack version sends one."""
    charset = None
    if content_type:
        media, _, params = content_type.partition(";")
        media = media.strip().lower()
        if media and media not in _JSON_TYPES:
            raise WireError(f"expected content type application/json, got {_shown(media[:60])}")
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"').strip().lower()
    if charset is None:
        return body.decode(_JAVA_DEFAULT_CHARSET)
    codec = _CHARSETS.get(charset)
    if codec is None:
        raise WireError(f"unsupported charset {_shown(charset[:40])!r} (use utf-8, iso-8859-1 or us-ascii)")
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        raise WireError(f"body is not valid {charset}") from None


def _shown(text: str) -> str:
    """``text`` with control and non-ASCII characters escaped: safe in an answer and a log line."""
    return text.encode("unicode_escape").decode("ascii")
