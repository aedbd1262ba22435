"""Two nttd instances exchange a case and its status (issue 11 point 6), on SQLite and
on PostgreSQL, each instance with its own database, clock and port on loopback.

Instance A is the home hotline in GB (the world's own directory). Instance B is the
NL partner's nttd: in A's directory the NL partner's webhook_url is B's
/api/v1/exchange; in B's directory A is a partner (GB) with the same shared secret and
a status_url (A) and status_token (a partner token A issued to B).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select

from notices.webhook import encode_payload, sign
from nttd.models import Case, ExchangeLink, ExchangeReport
from nttd.partners import load_partners, parse_partner_file
from tests.conftest import drop_pg_database, make_pg_database
from tests.integration.world import PATH, WEBHOOK_SECRET, World, running_world

SLOW = {"NTTD_RECHECK_SCHEDULE": "1h", "NTTD_REAPPEARANCE_SCHEDULE": "1h"}


@dataclass
class Pair:
    a: World
    b: World

    async def settle(self, rounds: int = 20) -> None:
        """Run both instances' due work until neither has any left."""
        for _ in range(rounds):
            done = await self.a.run_until_idle() + await self.b.run_until_idle()
            if done == 0:
                return
        raise AssertionError("the two instances kept each other busy")

    async def advance(self, seconds: float, step: float = 0.1) -> None:
        """Move both clocks forward together, in steps, settling after each."""
        for _ in range(round(seconds / step)):
            for world in (self.a, self.b):
                assert world.clock is not None
                world.clock.set(world.clock() + timedelta(seconds=step))
            await self.settle()


def b_directory(a: World, secret: str) -> str:
    return f"""
[[hotline]]
code = "nl-partner"
name = "Partner Hotline NL"
countries = ["NL"]
self = true

[[hotline]]
code = "gb-home"
name = "Home Hotline"
countries = ["GB"]
webhook_url = "{a.base_url}/api/v1/exchange"
webhook_secret = "{secret}"
status_url = "{a.base_url}"
status_token = "{a.tokens['nl']}"
"""


def a_directory(b: World, secret: str) -> str:
    return f"""
[[hotline]]
code = "nl-partner"
name = "Partner Hotline NL"
countries = ["NL"]
language = "nl"
webhook_url = "{b.base_url}/api/v1/exchange"
webhook_secret = "{secret}"
"""


@contextlib.asynccontextmanager
async def second_database(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
        return
    url, name = await make_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


@contextlib.asynccontextmanager
async def two_instances(database_url: str, tmp_path: Path,
                        **a_settings: str) -> AsyncIterator[Pair]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with contextlib.AsyncExitStack() as stack:
        b_url = await stack.enter_async_context(second_database(database_url, tmp_path))
        a = await stack.enter_async_context(
            running_world(database_url, tmp_path / "a", **(SLOW | a_settings)))
        b = await stack.enter_async_context(
            running_world(b_url, tmp_path / "b", NTTD_HOME_COUNTRY="NL",
                          NTTD_NOTICE_FROM="hotline@partner-nl.example"))
        async with a.svc.sessions() as session, session.begin():
            await load_partners(session, parse_partner_file(a_directory(b, WEBHOOK_SECRET)))
        async with b.svc.sessions() as session, session.begin():
            await load_partners(session, parse_partner_file(b_directory(a, WEBHOOK_SECRET)))
        yield Pair(a, b)


def kinds(case: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in case["timeline"]]


async def count(world: World, model: Any) -> int:
    async with world.svc.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def acknowledged_at(world: World, case_id: int) -> object:
    async with world.svc.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case.acknowledged_at


async def test_a_case_and_its_status_travel_between_two_instances(
        database_url: str, tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        a, b = pair.a, pair.b
        url = a.url("nl")
        status, body = await a.api("POST", "/api/v1/cases", json={
            "urls": [url], "classification": "baseline", "content_type": "image"})
        assert status == 201, body
        a_id = body["cases"][0]["id"]
        await pair.settle()

        # A routed it to the NL partner, whose webhook is B's exchange.
        a_case = await a.case(a_id)
        assert a_case["route"] == {"kind": "partner", "hotline": "nl-partner"}
        assert [n["status"] for n in a_case["notices"]] == ["sent"]
        # ... and it is in B's intake with A's reference, hosted in B's own country.
        status, listing = await b.api("GET", "/api/v1/cases")
        assert listing["total"] == 1, listing
        b_summary = listing["cases"][0]
        b_id = b_summary["id"]
        assert b_summary["url"] == url
        assert b_summary["reference"] == f"gb-home NTTD-{a_id}"
        assert b_summary["classification"] == "baseline"
        b_case = await b.case(b_id)
        received = next(e for e in b_case["timeline"] if e["kind"] == "exchange_received")
        assert received["data"]["sender"] == "gb-home"
        assert received["data"]["sender_reference"] == f"NTTD-{a_id}"
        assert b_case["clocks"]["confirmed_at"] == a_case["clocks"]["confirmed_at"]

        # B notices the host in its own country (its SMTP sink), not A.
        assert b_case["route"]["kind"] == "direct"
        assert [m.rcpt_tos for m in b.smtp.messages] == [["abuse@nl-host.example"]]
        assert not a.smtp.messages

        # B's statuses came back to A: acknowledged at receipt, then the notice.
        a_case = await a.case(a_id)
        assert "reported_acknowledged" in kinds(a_case)
        assert "reported_notice_sent" in kinds(a_case)
        assert await acknowledged_at(a, a_id) is not None
        assert "reported_removed" not in kinds(a_case)
        assert a_case["status"] in ("routed", "monitoring")

        # The host removes; B's checks confirm; "removed" reaches A; A's own check
        # (its schedule says 1 h: the report made it check now) confirms it too.
        a.hosts["nl"].route(PATH, status=404)
        await pair.advance(2.0)
        b_case = await b.case(b_id)
        assert b_case["status"] == "removed"
        a_case = await a.case(a_id)
        assert "reported_removed" in kinds(a_case)
        assert a_case["status"] == "removed", kinds(a_case)
        assert a_case["checks"] and a_case["checks"][-1]["verdict"] == "gone"
        # Each status reached A once.
        reported = [k for k in kinds(a_case) if k.startswith("reported_")]
        assert reported == ["reported_acknowledged", "reported_notice_sent",
                            "reported_removed"]
        assert await count(b, ExchangeReport) == 3
        # What came back is statuses and notes, never the URL (or any link).
        for event in a_case["timeline"]:
            if event["kind"].startswith("reported_"):
                assert "://" not in json.dumps(event["data"]), event
        async with b.svc.sessions() as session:
            assert set(await session.scalars(select(ExchangeReport.state))) == {"sent"}


def signed(body: dict[str, Any], secret: str = WEBHOOK_SECRET,
           **headers: str) -> tuple[bytes, dict[str, str]]:
    raw = encode_payload(body)
    return raw, {"Content-Type": "application/json", "X-NTTD-Signature": sign(raw, secret),
                 **headers}


def payload(*reports: dict[str, Any]) -> dict[str, Any]:
    return {"format": "nttd-notice/1", "kind": "partner", "language": "en",
            "sent_at": "2026-01-01T00:00:00+00:00",
            "sender": {"name": "Home Hotline", "email": None, "country": "GB"},
            "recipient": {"name": "Partner Hotline NL", "email": None, "country": "NL"},
            "reports": list(reports)}


def report(ref: str, url: str) -> dict[str, Any]:
    return {"reference": ref, "url": url, "host": "nl-files.example.com", "ip": "127.0.1.1",
            "classification": "baseline", "content_type": "image",
            "confirmed_at": "2026-01-01T00:00:00+00:00"}


async def post(world: World, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    # A file-like body: aiohttp warns about (and the suite fails on) megabytes of bytes.
    async with world.http.post(world.base_url + "/api/v1/exchange", data=io.BytesIO(raw),
                               headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_exchange_refuses_what_it_cannot_trust_and_stores_nothing(
        database_url: str, tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        b = pair.b
        body = payload(report("NTTD-7", pair.a.url("nl")))
        raw, headers = signed(body)
        # Tampered: the body changed after signing.
        tampered = raw.replace(b"NTTD-7", b"NTTD-8")
        status, answer = await post(b, tampered, headers)
        assert status == 403 and "signature" in answer["error"]
        # Signed with another secret.
        status, answer = await post(b, *signed(body, "an-attacker-secret-0123456789"))
        assert status == 403
        # No signature at all.
        status, answer = await post(b, raw, {"Content-Type": "application/json"})
        assert status == 401 and "X-NTTD-Signature" in answer["error"]
        # A sender we do not know, even with a good signature.
        status, answer = await post(b, raw, headers | {"X-NTTD-Sender": "xx-unknown"})
        assert status == 403 and "unknown sender" in answer["error"]
        # A bad URL among good ones: 422 naming it, and none of them stored.
        raw_bad, headers_bad = signed(payload(report("NTTD-1", pair.a.url("nl")),
                                              report("NTTD-2", "ftp://example.com/x"),
                                              report("NTTD-3", pair.a.url("de"))))
        status, answer = await post(b, raw_bad, headers_bad)
        assert status == 422, answer
        assert [p["reference"] for p in answer["problems"]] == ["NTTD-2"]
        # Not an nttd payload; too large.
        status, answer = await post(b, *signed({"format": "other", "reports": []}))
        assert status == 400
        huge = b"x" * (1024 * 1024 + 1)
        status, answer = await post(b, huge, {"Content-Type": "application/json",
                                              "X-NTTD-Signature": sign(huge, WEBHOOK_SECRET)})
        assert status == 413
        assert await count(b, Case) == 0
        assert await count(b, ExchangeLink) == 0
        # The real thing is accepted, by the sender's header too.
        status, answer = await post(b, raw, headers | {"X-NTTD-Sender": "gb-home"})
        assert status == 202, answer
        assert await count(b, Case) == 1
        # Two partners sharing one secret: B will not guess which one sent it.
        async with b.svc.sessions() as session, session.begin():
            await load_partners(session, parse_partner_file(f"""
[[hotline]]
code = "de-partner"
name = "Partner Hotline DE"
countries = ["DE"]
webhook_secret = "{WEBHOOK_SECRET}"
"""))
        raw3, headers3 = signed(payload(report("NTTD-9", pair.a.url("de"))))
        status, answer = await post(b, raw3, headers3)
        assert status == 403 and "several partners" in answer["error"]
        assert await count(b, Case) == 1


async def test_a_repeated_webhook_creates_no_duplicate(database_url: str,
                                                      tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        b = pair.b
        raw, headers = signed(payload(report("NTTD-41", pair.a.url("nl")),
                                      report("NTTD-42", pair.a.url("de"))),
                              **{"Idempotency-Key": "<nttd-notice-1.ab@example>"})
        first = await post(b, raw, headers)
        assert first[0] == 202, first
        again = await post(b, raw, headers)
        assert again == first
        # The same references in a new delivery (another key) are the same cases too.
        raw2, headers2 = signed(payload(report("NTTD-42", pair.a.url("de"))),
                                **{"Idempotency-Key": "<nttd-notice-2.cd@example>"})
        status, third = await post(b, raw2, headers2)
        assert status == 202
        assert third["cases"] == [c for c in first[1]["cases"] if c["reference"] == "NTTD-42"]
        assert await count(b, Case) == 2
        assert await count(b, ExchangeLink) == 2
        # And a status is queued once per case however often the cases came.
        await pair.b.run_until_idle()
        async with b.svc.sessions() as session:
            queued = list(await session.execute(
                select(ExchangeReport.link_id, ExchangeReport.status)))
        assert len(queued) == len(set(queued))
        assert sorted(status for _, status in queued if status == "acknowledged") == [
            "acknowledged", "acknowledged"]


async def test_statuses_wait_while_the_sender_is_down(database_url: str,
                                                     tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        a, b = pair.a, pair.b
        status, body = await a.api("POST", "/api/v1/cases", json={"urls": [a.url("nl")]})
        assert status == 201, body
        a_id = body["cases"][0]["id"]
        # A's route goes out to B; then A goes down before B answers.
        await a.run_until_idle()
        assert await count(b, Case) == 1
        assert a.runner is not None
        port = int(a.base_url.rsplit(":", 1)[1])
        for site in list(a.runner.sites):
            await site.stop()
        await b.advance(timedelta(seconds=5))
        async with b.svc.sessions() as session:
            reports = list(await session.scalars(select(ExchangeReport)))
        assert reports and all(r.state == "queued" and r.attempts >= 1 for r in reports)
        assert all("failed" in (r.last_error or "") for r in reports), \
            [r.last_error for r in reports]
        assert "reported_acknowledged" not in kinds(await _case_offline(a, a_id))
        # A comes back on the same address: the reports arrive, each once.
        await web.TCPSite(a.runner, "127.0.0.1", port).start()
        await b.advance(timedelta(seconds=5))
        await a.run_until_idle()
        a_case = await a.case(a_id)
        reported = [k for k in kinds(a_case) if k.startswith("reported_")]
        assert reported == ["reported_acknowledged", "reported_notice_sent"], reported
        assert await acknowledged_at(a, a_id) is not None


async def _case_offline(world: World, case_id: int) -> dict[str, Any]:
    """The case's timeline read from the database (the API is down)."""
    from nttd.models import Event

    async with world.svc.sessions() as session:
        found = await session.scalars(select(Event.kind).where(Event.case_id == case_id))
        return {"timeline": [{"kind": k} for k in found]}


async def test_a_status_repeated_with_its_key_is_applied_once(database_url: str,
                                                             tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        a = pair.a
        status, body = await a.api("POST", "/api/v1/cases", json={"urls": [a.url("nl")]})
        a_id = body["cases"][0]["id"]
        await a.run_until_idle()
        headers = {"Authorization": f"Bearer {a.tokens['nl']}",
                   "Idempotency-Key": "exchange-report-99"}
        answers = []
        for _ in range(2):
            async with a.http.post(f"{a.base_url}/api/v1/cases/{a_id}/status",
                                   json={"status": "removed", "note": "gone"},
                                   headers=headers) as resp:
                answers.append((resp.status, await resp.json()))
        assert answers[0] == answers[1] and answers[0][0] == 200
        assert kinds(await a.case(a_id)).count("reported_removed") == 1
        # Without the key (a person reporting again) it is recorded again.
        status, _ = await a.api("POST", f"/api/v1/cases/{a_id}/status", user="nl",
                                json={"status": "removed"})
        assert status == 200
        assert kinds(await a.case(a_id)).count("reported_removed") == 2


async def test_not_illegal_here_goes_back_and_a_hold_does_not(database_url: str,
                                                             tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        a, b = pair.a, pair.b
        status, body = await a.api("POST", "/api/v1/cases", json={
            "urls": [a.url("nl"), a.url("nl", "/img/2.jpg")]})
        assert status == 201, body
        judged_a, held_a = (c["id"] for c in body["cases"])
        await pair.settle()
        status, listing = await b.api("GET", "/api/v1/cases")
        by_ref = {c["reference"]: c["id"] for c in listing["cases"]}
        judged_b, held_b = by_ref[f"gb-home NTTD-{judged_a}"], by_ref[f"gb-home NTTD-{held_a}"]
        # B's analyst assesses one as not illegal in NL, and puts the other on hold.
        status, _ = await b.api("POST", f"/api/v1/cases/{judged_b}/status",
                                json={"status": "not_illegal", "note": "legal here"})
        assert status == 200
        status, _ = await b.api("POST", f"/api/v1/cases/{held_b}/hold", json={})
        assert status == 200
        await pair.settle()
        assert "reported_not_illegal" in kinds(await a.case(judged_a))
        held = kinds(await a.case(held_a))
        assert "reported_hold" not in held and "reported_acknowledged" in held


async def test_what_the_intake_keeps_of_each_report(database_url: str, tmp_path: Path) -> None:
    async with two_instances(database_url, tmp_path) as pair:
        b = pair.b
        assert b.clock is not None
        ahead = (b.clock() + timedelta(hours=3)).isoformat()
        one, same_url, future = (report("NTTD-1", pair.a.url("nl")),
                                 report("NTTD-2", pair.a.url("nl")),
                                 report("NTTD-3", pair.a.url("de")))
        future["confirmed_at"], future["classification"] = ahead, "other"
        status, answer = await post(b, *signed(payload(one, same_url, future)))
        assert status == 202, answer
        ids = {c["reference"]: c["id"] for c in answer["cases"]}
        # One URL under two of the sender's references: one case, both linked to it.
        assert ids["NTTD-1"] == ids["NTTD-2"] != ids["NTTD-3"]
        first, third = await b.case(ids["NTTD-1"]), await b.case(ids["NTTD-3"])
        assert first["reference"] == "gb-home NTTD-1"
        assert first["clocks"]["confirmed_at"] == "2026-01-01T00:00:00+00:00"
        # The sender's clock ran ahead: confirmed "now" here, not in our future.
        assert third["clocks"]["confirmed_at"] == b.clock().isoformat()
        assert third["classification"] == "other"
        assert await count(b, ExchangeLink) == 3
        # A confirmation before 1990 is refused like intake refuses it; nothing stored.
        old = report("NTTD-4", pair.a.url("us"))
        old["confirmed_at"] = "1985-01-01T00:00:00Z"
        status, answer = await post(b, *signed(payload(old)))
        assert status == 422 and "1990" in answer["problems"][0]["reason"]
        assert await count(b, Case) == 2


async def test_every_received_case_gets_its_statuses_however_many_are_open(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nttd.exchange import statuses

    monkeypatch.setattr(statuses, "SCAN_BATCH", 1)  # a batch smaller than the open links
    async with two_instances(database_url, tmp_path) as pair:
        b = pair.b
        reports = [report(f"NTTD-{i}", pair.a.url("nl", f"/img/{i}.jpg")) for i in (1, 2, 3)]
        status, answer = await post(b, *signed(payload(*reports)))
        assert status == 202, answer
        # Nothing is resolved yet (the stand-in's statuses go to A, which has no such
        # cases: those reports fail there, which is not what is looked at here).
        assert await statuses.queue_exchange_statuses(b.svc) == 1
        assert await statuses.queue_exchange_statuses(b.svc) == 1
        assert await statuses.queue_exchange_statuses(b.svc) == 1
        assert await statuses.queue_exchange_statuses(b.svc) == 0
        async with b.svc.sessions() as session:
            queued = sorted(await session.scalars(select(ExchangeReport.link_id)))
        assert len(queued) == 3 and len(set(queued)) == 3
