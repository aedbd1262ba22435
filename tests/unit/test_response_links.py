"""The signed response link (nttd.responses): a genuine link names its notice until it
expires; any change to the notice, the expiry or the signature, or another key, makes
it invalid; the expiry is inside the signed text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nttd.responses import LinkExpired, LinkInvalid, sign, verify

KEY = b"k" * 32
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_genuine_link_names_its_notice_until_it_expires() -> None:
    token = sign(KEY, 42, NOW + timedelta(days=30))
    assert verify(KEY, token, NOW) == 42
    assert verify(KEY, token, NOW + timedelta(days=30) - timedelta(seconds=1)) == 42
    with pytest.raises(LinkExpired):
        verify(KEY, token, NOW + timedelta(days=30))


@pytest.mark.parametrize("change", ["notice", "expiry", "signature", "key", "shape"])
def test_a_changed_link_is_invalid(change: str) -> None:
    token = sign(KEY, 42, NOW + timedelta(days=30))
    notice, expires, signature = token.split(".")
    key = KEY
    if change == "notice":
        token = f"43.{expires}.{signature}"
    elif change == "expiry":
        token = f"{notice}.{int(expires) + 1}.{signature}"
    elif change == "signature":
        token = f"{notice}.{expires}.{signature[:-2]}"
    elif change == "key":
        key = b"another key, of the same length!"
    else:
        token = f"{notice}.{expires}"
    with pytest.raises(LinkInvalid):
        verify(key, token, NOW)


def test_without_a_key_nothing_is_genuine() -> None:
    with pytest.raises(LinkInvalid):
        verify(None, sign(KEY, 42, NOW + timedelta(days=1)), NOW)


def test_an_expired_link_with_a_changed_signature_is_tampered_not_expired() -> None:
    token = sign(KEY, 42, NOW - timedelta(days=1))
    with pytest.raises(LinkInvalid):
        verify(KEY, token[:-1] + ("A" if token[-1] != "A" else "B"), NOW)
