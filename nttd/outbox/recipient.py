"""Who a notice goes to: routing decides, the outbox delivers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    kind: str            # host | cdn | registrar | partner
    channel: str         # email | webhook
    address: str         # e-mail address or webhook URL
    name: str
    language: str = "en"
    hotline_id: int | None = None
