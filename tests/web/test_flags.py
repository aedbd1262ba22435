"""The coordinator's view of flagged cases: the API (`flagged`, `flag_reason` in the case
JSON, `?flagged=1`), the web list filter, the badge, and the form (analyst, coordinator,
admin; CSRF) that clears a flag with a note. A partner never sees the flag."""

from __future__ import annotations

from nttd.cases import flag_case
from nttd.models import Case
from tests.integration.world import World
from tests.web.conftest import WebWorld
from tests.web.test_safety import make_case

REASON = "escalation ladder exhausted"


async def _flag(world: World, case_id: int) -> None:
    async with world.svc.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        flag_case(session, case, REASON, actor="system:outbox", now=world.svc.clock())


async def test_flags_in_the_api(ww: WebWorld) -> None:
    world = ww.world
    flagged = await make_case(world, world.url("us"))
    plain = await make_case(world, world.url("gb"))
    partners = await make_case(world, world.url("nl"))
    await world.run_until_idle()
    await _flag(world, flagged)
    await _flag(world, partners)

    case = await world.case(flagged)
    assert (case["flagged"], case["flag_reason"]) == (True, REASON) and case["flagged_at"]
    assert (await world.case(plain))["flagged"] is False
    status, listed = await world.api("GET", "/api/v1/cases?flagged=1")
    assert status == 200 and {c["id"] for c in listed["cases"]} == {flagged, partners}
    assert listed["total"] == 2
    status, listed = await world.api("GET", "/api/v1/cases?flagged=0")
    assert {c["id"] for c in listed["cases"]} == {plain}
    status, body = await world.api("GET", "/api/v1/cases?flagged=maybe")
    assert status == 400 and "flagged" in body["error"]

    # A coordinator lists and reads the flagged cases, and only those.
    status, listed = await world.api("GET", "/api/v1/cases", user="coordinator")
    assert status == 200 and {c["id"] for c in listed["cases"]} == {flagged, partners}
    status, listed = await world.api("GET", "/api/v1/cases?flagged=0", user="coordinator")
    assert {c["id"] for c in listed["cases"]} == {flagged, partners}  # cannot widen it
    assert (await world.case(flagged, user="coordinator"))["notices"]
    status, _ = await world.api("GET", f"/api/v1/cases/{plain}", user="coordinator")
    assert status == 404

    # The partner sees its case, without the coordinator's flag.
    shown = await world.case(partners, user="nl")
    assert not {"flagged", "flag_reason", "flagged_at"} & set(shown)
    assert all(e["kind"] != "coordinator_flagged" for e in shown["timeline"])
    status, inbox = await world.api("GET", "/api/v1/inbox", user="nl")
    assert status == 200
    assert all("flagged" not in c for c in (inbox if isinstance(inbox, list)
                                            else inbox["cases"]))


async def test_the_coordinator_finds_and_clears_a_flag(ww: WebWorld) -> None:
    world = ww.world
    flagged = await make_case(world, world.url("us"))
    plain = await make_case(world, world.url("gb"))
    await world.run_until_idle()
    await _flag(world, flagged)

    coordinator = await ww.browser("coordinator")
    home = await coordinator.get("/")
    assert 'href="/cases?flagged=1"' in home.text
    listing = await coordinator.get("/cases")
    assert listing.status == 200 and "Flagged cases" in listing.text
    assert f'href="/cases/{flagged}"' in listing.text
    assert f'href="/cases/{plain}"' not in listing.text
    assert 'class="badge"' in listing.text
    page = await coordinator.get(f"/cases/{flagged}")
    assert page.status == 200 and "flagged" in page.text and REASON in page.text
    assert f'action="/cases/{flagged}/flag/clear"' in page.text
    assert "http://" not in page.text.split("<h2>Notices</h2>")[0]  # defanged only

    # No CSRF token: refused, nothing changes. No note: refused, nothing changes.
    refused = await coordinator.post(f"/cases/{flagged}/flag/clear", {"note": "x"}, csrf="")
    assert refused.status == 403
    refused = await coordinator.post(f"/cases/{flagged}/flag/clear", {"note": "  "})
    assert refused.status == 400 and "note" in refused.text
    assert (await world.case(flagged))["flagged"] is True

    done = await coordinator.post(f"/cases/{flagged}/flag/clear",
                                  {"note": "called the host; on it"})
    assert done.status == 303 and done.location == "/cases?flagged=1"
    case = await world.case(flagged)
    assert case["flagged"] is False and case["flag_reason"] is None
    (cleared,) = [e for e in case["timeline"] if e["kind"] == "coordinator_flag_cleared"]
    assert cleared["actor"] == "user:coordinator"
    assert cleared["data"] == {"note": "called the host; on it"}
    assert (await coordinator.get(f"/cases/{flagged}")).status == 404  # no longer flagged

    # An analyst filters by the flag, and clearing an unflagged case changes nothing.
    analyst = await ww.browser("analyst")
    await _flag(world, plain)
    listing = await analyst.get("/cases?flagged=1")
    assert f'href="/cases/{plain}"' in listing.text
    assert f'href="/cases/{flagged}"' not in listing.text
    listing = await analyst.get("/cases?flagged=0")
    assert f'href="/cases/{flagged}"' in listing.text and f'href="/cases/{plain}"' not in (
        listing.text)
    assert (await analyst.get("/cases?flagged=2")).status == 400
    again = await analyst.post(f"/cases/{flagged}/flag/clear", {"note": "again"})
    assert again.status == 409 and "not flagged" in again.text
    done = await analyst.post(f"/cases/{plain}/flag/clear", {"note": "handled"})
    assert done.status == 303 and done.location == f"/cases/{plain}"
    assert (await world.case(plain))["flagged"] is False
