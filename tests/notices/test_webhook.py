"""Signed webhooks: HMAC vectors, and POSTs to a loopback receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator

import aiohttp
import pytest

from notices.errors import DeliveryError
from notices.webhook import SIGNATURE_HEADER, encode_payload, post_webhook, sign, verify
from nttd.demo.standins.webhook_receiver import WebhookReceiver

SECRET = "test-webhook-secret"
PAYLOAD = {
    "format": "nttd-notice/1",
    "kind": "partner",
    "reports": [
        {"reference": "NTTD-42", "url": "http://www.example.com/a.jpg", "host": "ü.example"}
    ],
}


def test_sign_matches_a_published_vector() -> None:
    # The widely published HMAC-SHA256 example (key "key", the "quick brown fox" message).
    body = b"The quick brown fox jumps over the lazy dog"
    expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert sign(body, "key") == "sha256=" + expected


def test_sign_matches_hmac_computed_independently() -> None:
    body = encode_payload(PAYLOAD)
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"


def test_verify() -> None:
    body = encode_payload(PAYLOAD)
    header = sign(body, SECRET)
    assert verify(body, SECRET, header)
    assert not verify(body + b" ", SECRET, header)  # tampered body
    assert not verify(body.replace(b"NTTD-42", b"NTTD-43"), SECRET, header)
    assert not verify(body, "another-secret", header)
    assert not verify(body, SECRET, None)
    assert not verify(body, SECRET, "")
    assert not verify(body, SECRET, header.removeprefix("sha256="))
    assert not verify(body, SECRET, "sha256=ü")


def test_encode_payload_is_canonical() -> None:
    body = encode_payload({"b": 1, "a": ["ü", None]})
    assert body == '{"a":["ü",null],"b":1}'.encode()
    assert encode_payload(dict(reversed(list(PAYLOAD.items())))) == encode_payload(PAYLOAD)


async def test_post_is_signed_over_the_raw_body(
    webhook_receiver: WebhookReceiver, http_session: aiohttp.ClientSession
) -> None:
    status = await post_webhook(webhook_receiver.url, PAYLOAD, SECRET, http_session, timeout=5)
    assert status == 200
    assert len(webhook_receiver.requests) == 1
    hook = webhook_receiver.requests[0]
    assert hook.method == "POST" and hook.path == "/hook"
    assert hook.headers["Content-Type"] == "application/json"
    assert verify(hook.body, SECRET, hook.headers[SIGNATURE_HEADER])
    assert hook.body == encode_payload(PAYLOAD)
    assert hook.json == PAYLOAD


async def test_any_2xx_is_success(
    webhook_receiver: WebhookReceiver, http_session: aiohttp.ClientSession
) -> None:
    webhook_receiver.status = 202
    assert await post_webhook(webhook_receiver.url, PAYLOAD, SECRET, http_session) == 202


@pytest.mark.parametrize(
    ("status", "temporary"),
    [(500, True), (503, True), (429, True), (408, True), (400, False), (401, False), (404, False)],
)
async def test_error_statuses(
    webhook_receiver: WebhookReceiver,
    http_session: aiohttp.ClientSession,
    status: int,
    temporary: bool,
) -> None:
    webhook_receiver.status = status
    webhook_receiver.answer = "x" * 10_000
    with pytest.raises(DeliveryError) as caught:
        await post_webhook(webhook_receiver.url, PAYLOAD, SECRET, http_session, timeout=5)
    assert caught.value.temporary is temporary
    assert str(status) in str(caught.value)
    assert len(str(caught.value)) < 4096 + 100  # at most 4 KiB of the answer is kept


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_is_permanent_and_not_followed(
    webhook_receiver: WebhookReceiver, http_session: aiohttp.ClientSession, status: int
) -> None:
    webhook_receiver.status = status
    with pytest.raises(DeliveryError) as caught:
        await post_webhook(webhook_receiver.url, PAYLOAD, SECRET, http_session, timeout=5)
    assert caught.value.temporary is False
    assert "/elsewhere" in str(caught.value)
    assert webhook_receiver.paths() == ["/hook"]  # the redirect target was never requested


async def test_refused_connection_is_temporary(
    refused_port: int, http_session: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{refused_port}/hook"
    with pytest.raises(DeliveryError) as caught:
        await post_webhook(url, PAYLOAD, SECRET, http_session, timeout=5)
    assert caught.value.temporary is True


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A loopback server that accepts connections and never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in writers:
        writer.close()
    await server.wait_closed()


async def test_timeout_is_temporary(
    silent_server: int, http_session: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{silent_server}/hook"
    with pytest.raises(DeliveryError) as caught:
        await post_webhook(url, PAYLOAD, SECRET, http_session, timeout=0.3)
    assert caught.value.temporary is True


async def test_unusable_url_is_permanent(http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(DeliveryError) as caught:
        await post_webhook("ftp://127.0.0.1/hook", PAYLOAD, SECRET, http_session)
    assert caught.value.temporary is False

