"""Refresh the published IP ranges in ``resolvers/data/cdns.json`` (needs the network).

    python -m resolvers.cdn_refresh [PATH_TO_cdns.json]

Fetches the providers' own range lists (Cloudflare's ips-v4/ips-v6 text files,
Fastly's public-ip-list JSON, the CLOUDFRONT service of AWS ip-ranges.json),
replaces each provider's ``ip_ranges`` and sets ``version`` to today's date.
CNAME suffixes, AS numbers and abuse routes are curated by hand (README.md).
A provider whose list cannot be fetched or read keeps its old ranges, and the
command says so; parsing is pure (``parse_ranges``) and tested on samples.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["RANGE_SOURCES", "parse_ranges", "refresh"]

# provider name -> [(url, format)]
RANGE_SOURCES: dict[str, list[tuple[str, str]]] = {
    "Cloudflare": [("https://www.cloudflare.com/ips-v4", "lines"),
                   ("https://www.cloudflare.com/ips-v6", "lines")],
    "Fastly": [("https://api.fastly.com/public-ip-list", "fastly")],
    "Amazon CloudFront": [("https://ip-ranges.amazonaws.com/ip-ranges.json", "aws-cloudfront")],
}
_CAP = 8 * 1024 * 1024


def _valid(values: list[Any]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError:
            continue
    return out


def parse_ranges(text: str, fmt: str) -> list[str]:
    """The CIDR ranges in one published list; raises ValueError when it is unreadable."""
    if fmt == "lines":
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        return _valid(lines)
    data = json.loads(text)
    if fmt == "fastly":
        return _valid(list(data.get("addresses", [])) + list(data.get("ipv6_addresses", [])))
    if fmt == "aws-cloudfront":
        v4 = [p["ip_prefix"] for p in data.get("prefixes", []) if p.get("service") == "CLOUDFRONT"]
        v6 = [p["ipv6_prefix"] for p in data.get("ipv6_prefixes", [])
              if p.get("service") == "CLOUDFRONT"]
        return _valid(v4 + v6)
    raise ValueError(f"unknown format {fmt!r}")


async def refresh(path: Path, session: aiohttp.ClientSession) -> list[str]:
    """Update the ranges in ``path``; returns one line of news per provider."""
    doc = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    news = []
    for entry in doc["cdns"]:
        sources = RANGE_SOURCES.get(entry["name"])
        if not sources:
            continue
        ranges: list[str] = []
        try:
            for url, fmt in sources:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as resp:
                    resp.raise_for_status()
                    body = await resp.content.read(_CAP)
                ranges += parse_ranges(body.decode("utf-8"), fmt)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            news.append(f"{entry['name']}: kept the old ranges ({exc})")
            continue
        if ranges:
            entry["ip_ranges"] = sorted(set(ranges), key=lambda r: (":" in r, r))
            news.append(f"{entry['name']}: {len(entry['ip_ranges'])} ranges")
    doc["version"] = datetime.now(UTC).date().isoformat()
    await asyncio.to_thread(path.write_text, json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return news


async def _main(path: Path) -> None:
    async with aiohttp.ClientSession(trust_env=False) as session:
        for line in await refresh(path, session):
            print(line)


if __name__ == "__main__":
    default = Path(__file__).parent / "data" / "cdns.json"
    asyncio.run(_main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
