"""Hostile and odd input gets a clear JSON 4xx and changes nothing: ids out of range,
deep or huge JSON, text the storage cannot hold, implausible dates, bad paging;
errors are JSON everywhere under /api/ and every answer carries safe headers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from nttd.models import Case, Event
from tests.integration.world import World, running_world


async def raw(world: World, method: str, path: str, *,
              body: bytes | str | io.BytesIO | None = None,
              content_type: str | None = "application/json", user: str | None = "analyst",
              ) -> tuple[int, Any, dict[str, str]]:
    headers = {}
    if user is not None:
        headers["Authorization"] = f"Bearer {world.tokens[user]}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    data = body.encode() if isinstance(body, str) else body
    async with world.http.request(method, world.base_url + path, data=data,
                                  headers=headers) as resp:
        assert resp.content_type == "application/json", (resp.status, await resp.text())
        return resp.status, await resp.json(), dict(resp.headers)


async def count(world: World, model: Any) -> int:
    async with world.svc.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> Any:
    async with running_world(database_url, tmp_path) as w:
        yield w


BAD_IDS = [str(2**63), str(2**31), "1_0", "%201", "\u0661", "-1", "0", "1.0", "1e3"]


async def test_case_ids_are_parsed_strictly(world: World) -> None:
    for case_id in BAD_IDS:
        status, body, _ = await raw(world, "GET", f"/api/v1/cases/{case_id}")
        assert status == 404 and body["error"] == "no such case", case_id
        status, body, _ = await raw(world, "POST", f"/api/v1/cases/{case_id}/hold", body="{}")
        assert status == 404, case_id


async def test_json_is_bounded_and_must_be_json(world: World) -> None:
    before = await count(world, Case)
    deep = '{"urls": ' + "[" * 100_000 + "]" * 100_000 + "}"
    status, body, _ = await raw(world, "POST", "/api/v1/cases", body=deep)
    assert status == 400 and "nested" in body["error"]
    huge = '{"urls": ["http://a.example.com/"], "x": ' + "9" * 5000 + "}"
    status, body, _ = await raw(world, "POST", "/api/v1/cases", body=huge)
    assert status == 400 and "digits" in body["error"]
    status, body, _ = await raw(world, "POST", "/api/v1/cases",
                                body='{"urls": ["http://a.example.com/"]}',
                                content_type="text/plain")
    assert status == 415
    status, body, _ = await raw(world, "POST", "/api/v1/cases", body="{not json")
    assert status == 400 and "not valid JSON" in body["error"]
    status, body, _ = await raw(world, "POST", "/api/v1/cases", body='{"urls": [NaN]}')
    assert status == 400
    assert await count(world, Case) == before


async def test_urls_the_storage_cannot_hold_are_invalid(world: World) -> None:
    for escaped in ("\\ud800", "\\u0000"):  # a lone surrogate, a NUL (JSON escapes)
        body = '{"urls": ["http://a.example.com/a' + escaped + '.jpg"]}'
        status, answer, _ = await raw(world, "POST", "/api/v1/cases", body=body)
        assert status == 422, answer
        assert answer["problems"][0]["index"] == 0
    assert await count(world, Case) == 0


REFUSED_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"classification": "x" * 150}, "at most 100"),          # longer than the column
    ({"content_type": "x" * 101}, "at most 100"),
    ({"reference": "x" * 201}, "at most 200"),
    ({"reference": "a\u0000b"}, "NUL"),
    ({"confirmed_at": "0001-01-01T00:00:00+05:00"}, "ISO-8601"),  # overflows in UTC
    ({"confirmed_at": "1989-12-31T23:59:59Z"}, "1990"),
    ({"confirmed_at": "2999-01-01T00:00:00Z"}, "future"),
    ({"confirmed_at": 20260101}, "ISO-8601"),
]


async def test_fields_are_validated_to_what_the_storage_holds(world: World) -> None:
    for extra, why in REFUSED_FIELDS:
        status, body = await world.api("POST", "/api/v1/cases",
                                       json={"urls": ["http://a.example.com/1.jpg"], **extra})
        assert status == 400 and why in body["error"], (extra, body)
    assert await count(world, Case) == 0
    limit = {"classification": 100, "content_type": 100, "reference": 200}
    for name, length in limit.items():
        status, body = await world.api("POST", "/api/v1/cases",
                                       json={"urls": [f"http://{name}.example.com/"],
                                             name: "x" * length})
        assert status == 201, body


async def test_paging_is_refused_out_of_range(world: World) -> None:
    for query in ["limit=-1", "limit=0", "limit=5000", "offset=-1", f"offset={10**30}",
                  "limit=1_0", "limit=%201", "status=bogus"]:
        status, body, _ = await raw(world, "GET", f"/api/v1/cases?{query}", content_type=None)
        assert status == 400, (query, body)


async def test_errors_are_json_everywhere_under_api(world: World) -> None:
    status, body, _ = await raw(world, "GET", "/api/v1/nowhere", content_type=None)
    assert status == 404 and "error" in body
    status, body, headers = await raw(world, "DELETE", "/api/v1/cases", content_type=None)
    assert status == 405 and "error" in body and "GET" in headers["Allow"]
    big = io.BytesIO(b'{"urls": ["' + b"a" * (9 * 1024 * 1024) + b'"]}')
    status, body, _ = await raw(world, "POST", "/api/v1/cases", body=big)
    assert status == 413 and "too large" in body["error"]
    status, body, headers = await raw(world, "GET", "/api/v1/cases", user=None,
                                      content_type=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = await raw(world, "GET", "/api/v1/inbox", content_type=None)
    assert status == 403 and "role" in body["error"]


async def test_every_api_answer_carries_safe_headers(world: World) -> None:
    for path, user in [("/api/v1/cases", "analyst"), ("/api/v1/nowhere", "analyst"),
                       ("/api/v1/cases", None), ("/api/v1/openapi.json", None)]:
        _, _, headers = await raw(world, "GET", path, user=user, content_type=None)
        assert headers["Server"] == "nttd"  # no version banner
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"


async def test_a_refused_action_writes_no_event(world: World) -> None:
    status, body = await world.api("POST", "/api/v1/cases",
                                   json={"urls": ["http://a.example.com/1.jpg"]})
    case_id = body["cases"][0]["id"]
    assert (await world.api("POST", f"/api/v1/cases/{case_id}/hold", json={}))[0] == 200
    events = await count(world, Event)
    status, _ = await world.api("POST", f"/api/v1/cases/{case_id}/hold", json={})
    assert status == 409
    status, _ = await world.api("POST", f"/api/v1/cases/{case_id}/status",
                                json={"status": "hold", "note": "again"})
    assert status == 409
    status, _ = await world.api("POST", f"/api/v1/cases/{case_id}/status",
                                json={"status": "bogus"})
    assert status == 400
    assert await count(world, Event) == events
