"""Signed webhooks: POSTing a notice payload as JSON to a partner hotline.

The body is the payload encoded by `encode_payload` (compact JSON, sorted keys,
UTF-8); the header `X-NTTD-Signature: sha256=<hex HMAC-SHA256(secret, body)>`
lets the receiver check it came from us and was not altered. A receiver
verifies the signature over the raw bytes it received, before parsing them:

    if not verify(raw_body, secret, request.headers.get(SIGNATURE_HEADER)): reject

Redirects are never followed: a 3xx answer is a permanent failure (the
partner must configure the right URL), and the redirect target is not contacted.

Failures of `post_webhook` are all `DeliveryError`:
- temporary (retry later): connection refused/reset, timeout, 5xx, 408, 429;
- permanent: 3xx, any other 4xx, a status outside 200-599, or an unusable URL.

Every failure is the partner endpoint's own (`DeliveryError.contact`): there is no
relay of ours in between.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from notices.errors import DeliveryError

IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "X-NTTD-Signature"
_SIGNATURE_PREFIX = "sha256="
_ANSWER_LIMIT = 4096  # bytes of the receiver's answer kept for an error message
_TEMPORARY_4XX = {408, 429}


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`: "sha256=" + hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """True when `header` is the right signature of `body` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header.strip().encode("utf-8"))


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a payload: compact JSON, sorted keys, UTF-8."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


async def _read_answer(response: aiohttp.ClientResponse) -> str:
    data = b""
    try:
        while len(data) < _ANSWER_LIMIT:
            chunk = await response.content.read(_ANSWER_LIMIT - len(data))
            if not chunk:
                break
            data += chunk
    except (aiohttp.ClientError, TimeoutError):
        pass  # the answer is only decoration for the error message
    return data.decode("utf-8", errors="replace").strip()


def _status_error(status: int, answer: str, location: str | None) -> DeliveryError:
    if 300 <= status < 400:
        target = f" to {location!r}" if location else ""
        return DeliveryError(
            f"webhook answered {status} (redirect{target}); redirects are not followed",
            temporary=False, contact=True,
        )
    temporary = 500 <= status < 600 or status in _TEMPORARY_4XX
    detail = f": {answer}" if answer else ""
    return DeliveryError(f"webhook answered {status}{detail}", temporary=temporary,
                         contact=True)


async def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    secret: str,
    session: aiohttp.ClientSession,
    *,
    timeout: float = 15.0,  # noqa: ASYNC109 -- agreed API; becomes aiohttp's ClientTimeout
    idempotency_key: str | None = None,
) -> int:
    """POST the signed payload to `url`; return the 2xx status or raise DeliveryError.

    `idempotency_key` is sent as the `Idempotency-Key` header: the same on every
    attempt of one notice, so a receiver can drop a repeat after a crash."""
    body = encode_payload(payload)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
    if idempotency_key is not None:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            if 200 <= response.status < 300:
                return response.status
            location = response.headers.get("Location")
            answer = await _read_answer(response)
            raise _status_error(response.status, answer, location)
    except DeliveryError:
        raise
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise DeliveryError(f"webhook URL {url!r} is not usable: {exc}", temporary=False,
                            contact=True) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DeliveryError(f"webhook POST to {url} failed: {reason}", temporary=True,
                            contact=True) from exc
