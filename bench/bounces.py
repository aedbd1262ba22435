"""Benchmark: bounces in, and the cost of signing (not a timed test).

    python bench/bounces.py                 # 1,000 bounces on SQLite and PostgreSQL
    python bench/bounces.py --bounces 100   # a quick run

N sent notices to N hosts' abuse addresses (one case each, a registrar behind every
host) are bulk-inserted; then N delivery status notifications, one per notice,
addressed to its VERP envelope sender, go through `handle_bounce` one after another
(as `nttd bounce` or the API would take them): each marks an address bad and queues
the case's fallback notice to the registrar. Printed: bounces/s per backend, and,
without a database, `parse_dsn` per bounce and a 2048-bit DKIM signature per notice
(dkimpy's RSA is pure Python). PostgreSQL: NTTD_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); a scratch database is created and
dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notices.dsn import parse_dsn
from notices.mail import DkimConfig, build_message, dkim_sign
from notices.render import RenderedNotice
from notices.verp import make_verp
from nttd.db import make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import BadContact, Case, Notice, NoticeCase
from nttd.outbox import handle_bounce
from nttd.settings import Settings

BASE = "hotline@home-hotline.example"
PG_ADMIN = os.environ.get("NTTD_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")


def dsn(to: str, recipient: str) -> bytes:
    return f"""Delivered-To: {to}
To: {to}
From: MAILER-DAEMON@mx.example.net
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such mailbox

--B
Content-Type: text/rfc822-headers

From: {BASE}
To: {recipient}
Subject: Notice

--B--
""".encode()


async def run(url: str, n: int) -> float:
    settings = Settings.load({"NTTD_DATABASE_URL": url, "NTTD_NOTICE_FROM": BASE,
                              "NTTD_SECRET_KEY": "bench-secret-key-0123456789"})
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    await upgrade(engine)
    now = datetime.now(UTC)
    key = (settings.secret_key or "").encode()
    bounces = []
    async with sessions() as session, session.begin():
        for i in range(n):
            address = f"abuse@host{i}.example"
            case = Case(url=f"http://h{i}.example.com/{i}.jpg",
                        canonical_url=f"http://h{i}.example.com/{i}.jpg", host=f"h{i}.example.com",
                        status="notified", confirmed_at=now, created_at=now, updated_at=now,
                        hold_seconds=0.0, resolve_attempts=0, check_count=0, gone_streak=0,
                        reappeared_count=0, facts={
                            "hosting": {"asn": 64500, "as_name": f"HOST{i}",
                                        "abuse_emails": [address]},
                            "registrar": {"name": "Registrar",
                                          "abuse_emails": ["abuse@registrar.example"]}})
            notice = Notice(recipient_kind="host", channel="email", address=address,
                            recipient_name="Host", language="en", status="sent", attempts=1,
                            next_attempt_at=now, created_at=now, sent_at=now)
            session.add_all([case, notice])
            await session.flush()
            notice.envelope_from = make_verp(BASE, notice.id, key)
            notice.message_id = f"<nttd-notice-{notice.id}.x@home-hotline.example>"
            session.add(NoticeCase(notice_id=notice.id, case_id=case.id))
            bounces.append(dsn(notice.envelope_from, address))
    started = time.perf_counter()
    for raw in bounces:
        outcome = await handle_bounce(sessions, settings, raw, now=now)
        assert outcome.outcome == "permanent", outcome
    elapsed = time.perf_counter() - started
    async with sessions() as session:
        bad = await session.scalar(select(func.count()).select_from(BadContact))
        queued = await session.scalar(select(func.count()).select_from(Notice)
                                      .where(Notice.status == "queued"))
    assert bad == n and (queued or 0) >= 1, (bad, queued)
    await engine.dispose()
    return n / elapsed


def pure(n: int) -> tuple[float, float]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    config = DkimConfig("s", "home-hotline.example", pem)
    rendered = RenderedNotice(kind="host", language="en", subject="Notice",
                              body="A line of a letter.\n" * 60,
                              payload={"cases": [{"url": "http://a.example/x.jpg"}] * 10})
    raw = build_message(rendered, from_addr=BASE, to_addrs=["abuse@host.example"]).as_bytes()
    started = time.perf_counter()
    for _ in range(n):
        dkim_sign(raw, config)
    sign_ms = (time.perf_counter() - started) / n * 1000
    bounce = dsn(make_verp(BASE, 1, b"k"), "abuse@host.example")
    started = time.perf_counter()
    for _ in range(n * 10):
        parse_dsn(bounce)
    parse_ms = (time.perf_counter() - started) / (n * 10) * 1000
    return sign_ms, parse_ms


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounces", type=int, default=1000)
    args = parser.parse_args()
    sign_ms, parse_ms = pure(min(args.bounces, 200))
    print(f"DKIM signature (2048-bit RSA): {sign_ms:.1f} ms per notice; "
          f"parse_dsn: {parse_ms:.2f} ms per bounce")
    with tempfile.TemporaryDirectory() as tmp:
        rate = await run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.bounces)
        print(f"SQLite: {args.bounces} bounces handled at {rate:.0f} bounces/s")
    name = "nttd_bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
        rate = await run(f"postgresql+asyncpg://{base}/{name}", args.bounces)
        print(f"PostgreSQL: {args.bounces} bounces handled at {rate:.0f} bounces/s")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print("load:", os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main())
