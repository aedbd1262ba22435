"""Fixtures for the notices tests: the shipped templates, sample items, loopback stand-ins."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from notices.render import NoticeItem, NoticeRenderer, Party
from nttd.demo.standins.smtp_sink import SmtpSink
from nttd.demo.standins.webhook_receiver import WebhookReceiver

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
CONFIRMED = datetime(2024, 5, 6, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def renderer() -> NoticeRenderer:
    return NoticeRenderer(TEMPLATE_DIR)


@pytest.fixture
def items() -> list[NoticeItem]:
    return [
        NoticeItem(
            reference="NTTD-42",
            url="http://www.example.com/gallery/a.jpg?next=https://files.example.net/b.jpg",
            host="www.example.com",
            ip="127.0.0.2",
            classification="baseline",
            content_type="image",
            confirmed_at=CONFIRMED,
        ),
        NoticeItem(
            reference="NTTD-43",
            url="https://cdn.example.org/v/clip.mp4",
            host="cdn.example.org",
            ip="::1",
            classification=None,
            content_type=None,
            confirmed_at=CONFIRMED,
        ),
    ]


@pytest.fixture
def sender() -> Party:
    return Party(name="Home Hotline", email="reports@home.example", country="GB")


@pytest.fixture
def recipient() -> Party:
    return Party(name="Example Hosting", email="abuse@hosting.example", country="NL")


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False, auto_decompress=False) as session:
        yield session


@pytest.fixture
def refused_port() -> int:
    """A loopback port with nothing listening on it (connect gets refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
