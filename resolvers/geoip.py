"""Optional GeoIP: the country a MaxMind-format database (.mmdb) places an address in.

The registry country (RDAP, else Team Cymru) is where the network is
registered; a geolocation database says where the address is thought to be
used. They differ for networks announced far from their registration, and an
analyst wants to see that before trusting the route. Any ``.mmdb`` with a
``country.iso_code`` (GeoLite2-Country/City, DB-IP Lite Country) works;
``registered_country`` is read when ``country`` is missing. Read with
``maxminddb`` (MaxMind's reader, memory-mapped; a lookup is microseconds, so it
runs on the event loop). Never required: without a database there is no
GeoIP fact, and nothing else changes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from typing import Any

import maxminddb

__all__ = ["GeoIp", "GeoIpError"]


class GeoIpError(ValueError):
    """The database cannot be opened or is not a MaxMind DB."""


def _iso_code(record: Any, key: str) -> str | None:
    part = record.get(key) if isinstance(record, dict) else None
    code = part.get("iso_code") if isinstance(part, dict) else None
    if isinstance(code, str) and len(code) == 2 and code.isalpha():
        return code.upper()
    return None


@dataclass(frozen=True)
class GeoIp:
    """An open GeoIP database; ``description`` names it for provenance."""

    reader: maxminddb.Reader
    description: str

    @classmethod
    def open(cls, path: str | PathLike[str]) -> GeoIp:
        """Open ``path`` (GeoIpError if it is missing or not a MaxMind DB)."""
        try:
            reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoIpError(f"cannot open GeoIP database {str(path)!r}: {exc}") from None
        metadata = reader.metadata()
        built = datetime.fromtimestamp(metadata.build_epoch, UTC).date().isoformat()
        return cls(reader, f"{metadata.database_type} {built}")

    def country(self, ip: str) -> str | None:
        """The ISO 3166 country code the database gives ``ip``, or None."""
        try:
            record = self.reader.get(ipaddress.ip_address(ip))
        except (ValueError, maxminddb.InvalidDatabaseError):
            return None  # not an address, an IPv6 address in an IPv4 database, a bad record
        return _iso_code(record, "country") or _iso_code(record, "registered_country")

    def close(self) -> None:
        self.reader.close()
