"""Storage URLs: every form CloudStack uses, and the password never shown."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cshyperv.storage import StorageURL, StorageURLError


def test_cloudstack_cifs_url_with_form_encoded_password() -> None:
    url = StorageURL.parse("cifs://10.1.1.1/secondary/sub?user=administrator&password=1pass%40word1&domain=LAB")
    assert (url.scheme, url.host, url.share, url.path) == ("cifs", "10.1.1.1", "secondary", "sub")
    assert (url.user, url.password, url.domain) == ("administrator", "1pass@word1", "LAB")
    assert url.effective_port == 445 and url.unc() == "\\\\10.1.1.1\\secondary\\sub"
    assert "1pass" not in str(url) and "1pass" not in repr(url)
    assert "password=%3Credacted%3E" not in str(url) and "password=<redacted>" in str(url)
    assert "1pass%40word1" in url.to_url(with_credentials=True)


def test_smb_unc_nfs_and_ports() -> None:
    assert StorageURL.parse("smb://u:p%40ss@srv:4445/share").port == 4445
    assert StorageURL.parse("smb://u:p%40ss@srv/share").password == "p@ss"
    unc = StorageURL.parse("\\\\srv\\share\\a\\b.vhdx")
    assert (unc.host, unc.share, unc.path) == ("srv", "share", "a/b.vhdx")
    nfs = StorageURL.parse("nfs://10.0.0.5/export/secondary")
    assert (nfs.share, nfs.effective_port) == ("/export/secondary", 2049)
    assert nfs.child("template/tmpl").to_url() == "nfs://10.0.0.5/export/secondary/template/tmpl"


@pytest.mark.parametrize(
    "text", ["http://x/y", "cifs:///share", "cifs://host", "\\\\host", "cifs://h:99999/s", "nfs:///x"]
)
def test_bad_locations(text: str) -> None:
    with pytest.raises(StorageURLError):
        StorageURL.parse(text)


def test_parent_traversal_is_refused() -> None:
    with pytest.raises(StorageURLError):
        StorageURL.parse("cifs://h/s").child("../../etc")


_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\?#%"), min_size=1, max_size=12
).filter(lambda s: s not in (".", "..") and s.strip() == s and s)
_SECRET = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=6, max_size=30).filter(
    lambda s: s.strip() and "redacted" not in s
)


@given(
    share=_SEGMENT,
    parts=st.lists(_SEGMENT, max_size=4),
    user=_SEGMENT,
    password=_SECRET,
    domain=st.none() | _SEGMENT,
    port=st.none() | st.integers(1, 65535),
)
def test_cifs_urls_round_trip_and_never_show_the_password(
    *, share: str, parts: list[str], user: str, password: str, domain: str | None, port: int | None
) -> None:
    # A password that is also the user name (or in it) would be "shown" as the user.
    assume(not any(password in text for text in (share, user, domain or "", *parts)))
    url = StorageURL(scheme="cifs", host="fs.lab", port=port, share=share, path="/".join(parts), user=user,
                     password=password, domain=domain)  # fmt: skip
    text = url.to_url(with_credentials=True)
    again = StorageURL.parse(text)
    assert again == url
    assert StorageURL.parse(url.unc()).path == url.path and StorageURL.parse(url.unc()).share == share
    for shown in (str(url), repr(url), str(again), repr(again), url.to_url()):
        assert password not in shown
