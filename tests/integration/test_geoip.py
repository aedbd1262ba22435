"""With NTTD_GEOIP_DB the service records a second opinion on the hosting country."""

from __future__ import annotations

from pathlib import Path

import pytest

from nttd.services import Services
from nttd.settings import SettingsError
from tests.integration.world import SITES, running_world, world_settings
from tests.mmdb import write_mmdb


async def test_case_shows_geoip_country_and_the_disagreement(database_url: str,
                                                             tmp_path: Path) -> None:
    mmdb = write_mmdb(tmp_path / "country.mmdb", {
        SITES["de"].network: {"country": {"iso_code": "CH"}},  # registered DE, used in CH
        SITES["gb"].network: {"country": {"iso_code": "GB"}},
    })
    async with running_world(database_url, tmp_path, NTTD_GEOIP_DB=str(mmdb)) as world:
        _, body = await world.api("POST", "/api/v1/cases",
                                  json={"urls": [world.url("de"), world.url("gb")]})
        de_id, gb_id = (c["id"] for c in body["cases"])
        await world.wait_status(de_id, "routed", "notified", "monitoring")
        await world.wait_status(gb_id, "routed", "notified", "monitoring")
        de, gb = await world.case(de_id), await world.case(gb_id)
    # The route follows the registry country; GeoIP is recorded beside it.
    assert de["country"] == "DE" and de["route"] == {"kind": "partner", "hotline": "de-partner"}
    assert de["facts"]["hosting"]["geoip_country"] == "CH"
    assert de["facts"]["hosting"]["geoip_disagrees"] is True
    assert de["facts"]["provenance"]["hosting.geoip_country"]["source"] == "geoip"
    resolved = next(e for e in de["timeline"] if e["kind"] == "resolved")
    assert resolved["data"]["country_disagreement"] == {"registry": "DE", "geoip": "CH"}
    assert gb["facts"]["hosting"]["geoip_disagrees"] is False
    resolved = next(e for e in gb["timeline"] if e["kind"] == "resolved")
    assert "country_disagreement" not in resolved["data"]


async def test_an_unreadable_geoip_database_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_text("not a database")
    settings = world_settings(f"sqlite+aiosqlite:///{tmp_path / 'nttd.db'}",
                              NTTD_GEOIP_DB=str(broken))
    with pytest.raises(SettingsError, match="NTTD_GEOIP_DB: cannot open GeoIP database"):
        await Services.start(settings)
