"""Redaction of credentials inside URLs, free text and key/value maps.

CloudStack puts SMB passwords in URL queries (``cifs://host/share?user=u&password=p``) and some
callers put them in the userinfo part (``smb://u:p@host/share``); boot arguments carry
``password=`` and ``authorized_key=``; ``details`` maps carry values under keys such as
``password`` or ``chap.secret``. Anything that may end up in a repr, a log line, an exception or
an Answer passes through here first.

Attacker-chosen text reaches these functions, so they are built to stay cheap on any input: each
function looks at no more than :data:`MAX_SCAN` characters, and every pattern can start a match
only at the beginning of a run of the characters it scans (a lookbehind forbids starting inside
one), so the work is linear in the length looked at.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_SCAN", "REDACTED", "looks_secret", "redact_text", "redact_url_credentials"]

REDACTED: Final = "<redacted>"

MAX_SCAN: Final = 8192
"""The most characters a redaction function reads. Longer text is cut (``redact_text``) or
replaced whole (``redact_url_credentials``): what was not looked at cannot be shown."""

_TRUNCATED: Final = "... [{} more characters]"

# Parameter names whose value is a credential, matched case-insensitively in a query string
# (after ``?`` or ``&``), in boot arguments (after white space) or in text written as
# ``password=...`` / ``"password": "..."``. Longer names first: the alternation takes the first
# name that is followed by ``=`` or ``:``.
_SECRET_PARAMS = (
    r"(?:vnc_?password|password|passwd|passphrase|pwd|pass|secret_?key|secret|access_?key|api_?key"
    r"|private_?key|authorized_keys?|token)"
)
_QUERY_SECRET = re.compile(
    rf"(?i)(?P<lead>(?:^|(?<=[?&;,\s{{(\[]))[\"']?{_SECRET_PARAMS}[\"']?[ \t]*[=:][ \t]*)"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^&;,\s\"'}\])]*)"
)
# scheme://user:password@ -- the match may only start where a scheme can start (not right after
# another scheme character), which keeps a long run of letters without "://" linear.
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])(?P<lead>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)(?P<val>[^@/\s]*)(?=@)")

# Substrings of map keys (lower-cased) whose values are credentials or private data.
_SECRET_KEY_WORDS: Final = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "credential",
    "privatekey",
    "private_key",
    "private.key",
    "apikey",
    "api_key",
    "accesskey",
    "access_key",
    "authorized_key",
    "sshkey",
    "ssh_key",
    "ssh.key",
    "chap",
    "userdata",
    "user_data",
    "user.data",
)


def looks_secret(key: str) -> bool:
    """True when a map key (``password``, ``chap.target.secret``, ``vncPassword``...) names a
    value that must not be shown."""
    lowered = key[:MAX_SCAN].lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def redact_url_credentials(url: str) -> str:
    """Return ``url`` with every password in its query or userinfo replaced by ``<redacted>``.

    A value longer than :data:`MAX_SCAN` is not a URL CloudStack writes: it is replaced whole.
    """
    if len(url) > MAX_SCAN:
        return REDACTED
    return _redact(url)


def redact_text(text: str) -> str:
    """Redact credentials in arbitrary text (messages, exception strings, log lines).

    Text longer than :data:`MAX_SCAN` is cut there first (the rest is counted, not shown).
    """
    if len(text) > MAX_SCAN:
        return _redact(text[:MAX_SCAN]) + _TRUNCATED.format(len(text) - MAX_SCAN)
    return _redact(text)


def _redact(text: str) -> str:
    # Every pattern needs one of these characters. The compiled redactors of the wire model
    # (cshyperv/wire/_redaction.py) make the same test before they call redact_text: keep the two
    # in step.
    if "=" not in text and "@" not in text and ":" not in text:
        return text
    out = _USERINFO.sub(lambda m: m.group("lead") + REDACTED, text) if "@" in text else text
    return _QUERY_SECRET.sub(_replace_value, out)


def _replace_value(match: re.Match[str]) -> str:
    value = match.group("val")
    quote = value[:1] if value[:1] in ("'", '"') else ""
    return match.group("lead") + quote + REDACTED + quote
