"""A real RDAP server on loopback (aiohttp), for tests and benchmarks.

It serves ``/ip/{ip}``, ``/domain/{name}`` (the registry),
``/registrar/domain/{name}`` (the registrar a registry's ``related`` link
points at) and ``/autnum/{asn}`` (an autonomous system and its abuse contact)
from dicts a test fills, in the shapes real servers use:

    async with RdapServer() as rdap:
        rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
        rdap.add_ip_network("127.0.1.0/24", "US", "abuse@isp.example", "ISP-NET", style="arin")
        rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
        rdap.add_autnum(64500, "HOSTER-AS", "abuse@transit.example")
        rdap.write_bootstrap(tmp_path)      # the four IANA files pointing here
        rdap.base_url                       # "http://127.0.0.1:PORT/"

``ip_objects`` is keyed by CIDR or address (the longest matching prefix
answers), ``domain_objects`` and ``registrar_objects`` by lower-case name,
``autnum_objects`` by AS number.
``faults[path] = (status, body_bytes)`` overrides any path (500, garbage,
oversized...), ``redirects[path] = location`` answers 302, ``delays[path] =
seconds`` slows one down, and
``requests[path]`` counts the requests per path. ``once[path] = (status, body,
headers)`` answers one request that way and is then forgotten (a 429 with
``Retry-After``), ``trickle[path] = seconds`` sends a valid answer one byte
at a time that slowly (slow loris), ``max_in_flight`` is the highest number of
requests served at the same time. ``fail_next(n, status, retry_after=...)``
answers the next ``n`` requests, whatever their path, with that status (a burst
of 429s or 500s; calls queue up), and ``answers`` records every request as
``(monotonic time, path, status)`` so a test can see how retries were spaced.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from nttd.demo.standins.base import LoopbackServer

RDAP_JSON = "application/rdap+json"


def _vcard(fn: str, *, kind: str = "org", email: str | None = None,
           tel: str | None = None) -> list[Any]:
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn],
                        ["kind", {}, "text", kind]]
    if email is not None:
        props.append(["email", {}, "text", email])
    if tel is not None:
        props.append(["tel", {"type": ["work", "voice"]}, "uri", f"tel:{tel}"])
    return ["vcard", props]


class RdapServer(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.ip_objects: dict[str, dict[str, Any]] = {}
        self.domain_objects: dict[str, dict[str, Any]] = {}
        self.registrar_objects: dict[str, dict[str, Any]] = {}
        self.autnum_objects: dict[int, dict[str, Any]] = {}
        self.faults: dict[str, tuple[int, bytes]] = {}
        self.delays: dict[str, float] = {}
        self.redirects: dict[str, str] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        self.once: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.trickle: dict[str, float] = {}
        self.failing: collections.deque[tuple[int, dict[str, str]]] = collections.deque()
        self.answers: list[tuple[float, str, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.accept_headers: list[str] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # ---- filling the data ------------------------------------------------------------

    def add_ip_network(self, cidr: str, country: str, abuse_email: str, name: str,
                       style: str = "ripe") -> dict[str, Any]:
        """An IP network answer, RIPE-like (abuse entity at top level) or ARIN-like
        (abuse entity nested in the organisation entity)."""
        network = ipaddress.ip_network(cidr, strict=False)
        abuse = {"objectClassName": "entity", "handle": f"ABUSE-{name}", "roles": ["abuse"],
                 "vcardArray": _vcard(f"{name} abuse desk", kind="group", email=abuse_email,
                                      tel="+1-555-0100")}
        org = {"objectClassName": "entity", "handle": f"ORG-{name}", "roles": ["registrant"],
               "vcardArray": _vcard(f"{name} Ltd")}
        obj: dict[str, Any] = {
            "rdapConformance": ["rdap_level_0"],
            "objectClassName": "ip network",
            "handle": f"NET-{network.network_address}-{network.prefixlen}",
            "startAddress": str(network.network_address),
            "endAddress": str(network.broadcast_address),
            "ipVersion": f"v{network.version}",
            "name": name,
            "type": "ASSIGNED PA",
            "country": country,
        }
        if style == "arin":
            org["entities"] = [abuse]
            obj["entities"] = [org]
        else:
            obj["entities"] = [org, abuse]
        self.ip_objects[str(network)] = obj
        return obj

    def add_autnum(self, asn: int, name: str, abuse_email: str) -> dict[str, Any]:
        """An autnum answer (RIPE-like: the abuse entity at the top level)."""
        abuse = {"objectClassName": "entity", "handle": f"ABUSE-AS{asn}", "roles": ["abuse"],
                 "vcardArray": _vcard(f"{name} abuse desk", kind="group", email=abuse_email)}
        obj: dict[str, Any] = {
            "rdapConformance": ["rdap_level_0"], "objectClassName": "autnum",
            "handle": f"AS{asn}", "startAutnum": asn, "endAutnum": asn, "name": name,
            "entities": [{"objectClassName": "entity", "handle": f"ORG-AS{asn}",
                          "roles": ["registrant"], "vcardArray": _vcard(f"{name} Ltd")},
                         abuse],
        }
        self.autnum_objects[asn] = obj
        return obj

    def add_domain(self, domain: str, registrar_name: str, iana_id: str, abuse_email: str,
                   related: bool = True) -> dict[str, Any]:
        """A registry answer for ``domain``. With ``related`` the abuse contact lives at the
        registrar's own RDAP (a related link, as Verisign does); without, in the registry."""
        if not self.port:
            raise RuntimeError("add_domain needs the server started: its links carry the port")
        name = domain.lower()
        registrar: dict[str, Any] = {
            "objectClassName": "entity", "handle": iana_id, "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": iana_id}],
            "vcardArray": _vcard(registrar_name),
        }
        abuse = {"objectClassName": "entity", "roles": ["abuse"],
                 "vcardArray": _vcard("", kind="group", email=abuse_email, tel="+1.5550100")}
        obj: dict[str, Any] = {
            "rdapConformance": ["rdap_level_0"],
            "objectClassName": "domain",
            "ldhName": name.upper(),
            "entities": [registrar],
            "links": [{"rel": "self", "href": f"{self.base_url}domain/{name}",
                       "type": RDAP_JSON}],
        }
        if related:
            href = f"{self.base_url}registrar/domain/{name}"
            obj["links"].append({"rel": "related", "href": href, "type": RDAP_JSON})
            self.registrar_objects[name] = {
                "rdapConformance": ["rdap_level_0"], "objectClassName": "domain",
                "ldhName": name,
                "entities": [dict(registrar, entities=[abuse])],
            }
        else:
            registrar["entities"] = [abuse]
        self.domain_objects[name] = obj
        return obj

    def write_bootstrap(self, directory: Path, ipv4_cidrs: list[str] | None = None,
                        ipv6: list[str] | None = None, tlds: list[str] | None = None,
                        asns: list[str] | None = None) -> Path:
        """Write IANA-shaped dns/ipv4/ipv6/asn.json pointing at this server."""
        directory.mkdir(parents=True, exist_ok=True)
        urls = [self.base_url]
        files = {
            "dns.json": tlds if tlds is not None else ["com", "net", "org", "example"],
            "ipv4.json": ipv4_cidrs if ipv4_cidrs is not None else ["127.0.0.0/8"],
            "ipv6.json": ipv6 if ipv6 is not None else ["::1/128"],
            "asn.json": asns if asns is not None else ["64496-64511", "65536-65551"],
        }
        for file, keys in files.items():
            doc = {"description": f"Test RDAP bootstrap ({file})",
                   "publication": "2024-01-01T00:00:00Z",
                   "services": [[keys, urls]], "version": "1.0"}
            (directory / file).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return directory

    def fail_next(self, count: int, status: int, *, retry_after: str | None = None) -> None:
        """Answer the next `count` requests (any path) with `status`, after the bursts
        already queued; `retry_after` is sent as the Retry-After header."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.failing.extend([(status, headers)] * count)

    # ---- serving ---------------------------------------------------------------------

    def _find_ip(self, text: str) -> dict[str, Any] | None:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        best: tuple[int, dict[str, Any]] | None = None
        for key, obj in self.ip_objects.items():
            network = ipaddress.ip_network(key, strict=False)
            if network.version == address.version and address in network:
                if best is None or network.prefixlen > best[0]:
                    best = (network.prefixlen, obj)
        return None if best is None else best[1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request)
            self.answers.append((time.monotonic(), request.path, response.status))
            return response
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests[path] += 1
        if self.failing:
            status, headers = self.failing.popleft()
            error = {"errorCode": status, "title": "Try again later"}
            return web.Response(status=status, text=json.dumps(error), headers=headers,
                                content_type=RDAP_JSON)
        if path in self.once:
            status, body, headers = self.once.pop(path)
            return web.Response(status=status, body=body, headers=headers,
                                content_type=RDAP_JSON)
        if path in self.trickle:
            slow = web.StreamResponse(headers={"Content-Type": RDAP_JSON})
            await slow.prepare(request)
            for byte in b'{"objectClassName": "ip network", "handle": "SLOW"}':
                await slow.write(bytes([byte]))
                await asyncio.sleep(self.trickle[path])
            await slow.write_eof()
            return slow
        self.accept_headers.append(request.headers.get("Accept", ""))
        if path in self.delays:
            await asyncio.sleep(self.delays[path])
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if path in self.faults:
            status, body = self.faults[path]
            return web.Response(status=status, body=body, content_type=RDAP_JSON)
        parts = path.strip("/").split("/")
        obj: dict[str, Any] | None = None
        if len(parts) == 2 and parts[0] == "ip":
            obj = self._find_ip(parts[1])
        elif len(parts) == 2 and parts[0] == "domain":
            obj = self.domain_objects.get(parts[1].lower())
        elif len(parts) == 2 and parts[0] == "autnum" and parts[1].isdigit():
            obj = self.autnum_objects.get(int(parts[1]))
        elif len(parts) == 3 and parts[:2] == ["registrar", "domain"]:
            obj = self.registrar_objects.get(parts[2].lower())
        if obj is None:
            error = {"errorCode": 404, "title": "Not Found", "description": [path]}
            return web.Response(status=404, text=json.dumps(error), content_type=RDAP_JSON)
        return web.Response(text=json.dumps(obj), content_type=RDAP_JSON)

    async def start(self) -> RdapServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

