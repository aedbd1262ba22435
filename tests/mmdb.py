"""A GeoIP database for tests: a real MaxMind DB file written with mmdb-writer."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_mmdb(path: Path, networks: dict[str, dict[str, object]], *,
               ip_version: int = 6) -> Path:
    """A MaxMind DB in GeoLite2-Country's record shape (``country.iso_code``)."""
    writer = MMDBWriter(ip_version=ip_version, database_type="GeoLite2-Country",
                        ipv4_compatible=ip_version == 6)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path
