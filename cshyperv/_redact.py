"""Redaction of credentials inside URLs and free text.

CloudStack puts SMB passwords in URL queries (``cifs://host/share?user=u&password=p``) and some
callers put them in the userinfo part (``smb://u:p@host/share``). Anything that may end up in a
repr, a log line, an exception or an Answer passes through here first.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact_text", "redact_url_credentials"]

REDACTED = "<redacted>"

# Query parameters whose value is a credential. Matched case-insensitively, in a query string
# (after ``?`` or ``&``) or in text written as ``password=...``.
_SECRET_PARAMS = r"(?:password|passwd|pwd|pass|secret|secretkey|secret_key|accesskey|access_key|token)"
_QUERY_SECRET = re.compile(
    rf"(?i)(?P<lead>(?:^|[?&;,\s{{(\[])[\"']?{_SECRET_PARAMS}[\"']?\s*[=:]\s*)"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^&;,\s\"'}\])]*)"
)
_USERINFO = re.compile(r"(?P<lead>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)(?P<val>[^@/\s]*)(?=@)")


def redact_url_credentials(url: str) -> str:
    """Return ``url`` with every password in its query or userinfo replaced by ``<redacted>``."""
    if "=" not in url and "@" not in url and ":" not in url:
        return url
    out = _USERINFO.sub(lambda m: m.group("lead") + REDACTED, url)
    return _QUERY_SECRET.sub(_replace_value, out)


def _replace_value(match: re.Match[str]) -> str:
    value = match.group("val")
    quote = value[:1] if value[:1] in ("'", '"') else ""
    return match.group("lead") + quote + REDACTED + quote


def redact_text(text: str) -> str:
    """Redact credentials in arbitrary text (messages, exception strings, log lines)."""
    return redact_url_credentials(text)
