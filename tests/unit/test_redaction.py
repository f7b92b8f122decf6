"""Redaction: what it hides, and that attacker-sized text cannot make it expensive."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cshyperv import _redact
from cshyperv._redact import MAX_SCAN, REDACTED, looks_secret, redact_text, redact_url_credentials

SECRET = "Canary-9f2c"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"cifs://10.1.1.1/sec?user=admin&password={SECRET}&domain=LAB", "cifs://10.1.1.1/sec?user=admin&password="),
        (f"smb://admin:{SECRET}@10.1.1.1/share", "smb://admin:"),
        (f"\\\\srv\\share\\dir?user=u&password={SECRET}", "\\\\srv\\share\\dir?user=u&password="),
        (f"template=domP password={SECRET} name=r-4-VM", "template=domP password="),
        (f"eth0ip=10.1.1.2 authorized_key={SECRET} type=router", "eth0ip=10.1.1.2 authorized_key="),
        (f'{{"vncPassword": "{SECRET}"}}', '{"vncPassword": "'),
        (f"failed: Password = '{SECRET}'", "failed: Password = '"),
    ],
)
def test_credentials_are_hidden_and_the_rest_kept(text: str, shown: str) -> None:
    out = redact_text(text)
    assert SECRET not in out
    assert out.startswith(shown) and REDACTED in out
    assert redact_url_credentials(text) == out


def test_text_without_credentials_is_unchanged() -> None:
    for text in ("cifs://10.1.1.1/secondary", "vlan://261", "02:00:51:2c:00:0e", "bypass=1 passes=2 a:b"):
        assert redact_text(text) == text


@pytest.mark.parametrize("key", ["password", "vncPassword", "chap.target.secret", "SSH_KEY", "api_token", "userdata"])
def test_secret_looking_keys(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["keyboard", "rootDiskController", "cpuOvercommitRatio", "user", "deployvm"])
def test_ordinary_keys(key: str) -> None:
    assert not looks_secret(key)


# -- bounded work (D5: a 32 KB vmName once took 11 s in the userinfo pattern) ---------------------

REPRODUCER = "a" * 16000 + "://x:" + "y" * 16000


class _Recording:
    """Stands in for a compiled pattern and records the length of every string it is run on."""

    def __init__(self, pattern: re.Pattern[str], seen: list[int]) -> None:
        self._pattern, self._seen = pattern, seen

    def sub(self, repl: Any, text: str) -> str:
        self._seen.append(len(text))
        return self._pattern.sub(repl, text)


@pytest.fixture
def regex_inputs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    for name in ("_USERINFO", "_QUERY_SECRET"):
        monkeypatch.setattr(_redact, name, _Recording(getattr(_redact, name), seen))
    return seen


@pytest.mark.parametrize("size", [MAX_SCAN + 1, 32005, 1_000_000])
def test_no_pattern_ever_reads_more_than_the_cap(regex_inputs: list[int], size: int) -> None:
    head = f"smb://u:{SECRET}@h/s password={SECRET} "
    text = (head + REPRODUCER * (size // len(REPRODUCER) + 1))[:size]
    out = redact_text(text)
    assert regex_inputs and max(regex_inputs) <= MAX_SCAN
    assert SECRET not in out and len(out) < MAX_SCAN + 100 and out.endswith(f"[{size - MAX_SCAN} more characters]")
    regex_inputs.clear()
    assert redact_url_credentials(text) == REDACTED  # not looked at, so not shown
    assert regex_inputs == []


def test_the_reproducer_is_answered_from_its_first_max_scan_characters(regex_inputs: list[int]) -> None:
    out = redact_text(REPRODUCER)
    assert out == "a" * MAX_SCAN + f"... [{len(REPRODUCER) - MAX_SCAN} more characters]"
    assert all(n <= MAX_SCAN for n in regex_inputs)


def _starts_examined(pattern: re.Pattern[str], text: str) -> int:
    """How many start positions can begin a match of ``pattern``'s first element: with the
    lookbehind in place, only the start of each run (linear work); without it, every position
    inside a run (quadratic work over a long run)."""
    head = re.compile(pattern.pattern.split("(?P<lead>", 1)[0] + "[A-Za-z]")
    return sum(1 for i in range(len(text)) if head.match(text, i))


def test_the_userinfo_pattern_can_start_only_at_the_start_of_a_scheme_run() -> None:
    text = "a" * 500 + "://x:" + "y" * 500
    # Counting work: one start for the run of a's, one for x, one for the y's.
    assert _starts_examined(_redact._USERINFO, text) == 3
    assert _redact._USERINFO.search(text) is None
    assert _redact._USERINFO.search(f"xa{text}@h") is not None
