"""A real DNS server on loopback, built on dnspython, for tests and benchmarks.

It answers UDP and TCP queries from an in-memory zone that a test can change at
any time. CNAMEs are answered the way a recursive resolver would: the chain is
followed inside the zone and every link is put in the answer section.

    zone = Zone()
    zone.add("www.example.com", "CNAME", "host.example.net")
    zone.add("host.example.net", "A", "127.0.0.2")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "NL", "EXAMPLE-NET")
    async with DnsServer(zone) as server:
        server.host, server.port   # "127.0.0.1", 53xxx

Names that are not in the zone get NXDOMAIN; names that exist with other types
get NOERROR with an empty answer (NODATA). `zone.servfail` names answer SERVFAIL
and `zone.silent` names get no answer at all (a timeout for the client);
`zone.garbage` names are answered with bytes that are not a DNS message.
`server.queries` counts (name, type) pairs asked, for the benchmarks.
"""

from __future__ import annotations

import asyncio
import collections
import struct
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from nttd.demo.standins.base import LoopbackServer

MAX_CHAIN = 16


@dataclass
class Zone:
    records: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".") + "."

    def add(self, name: str, rdtype: str, value: str, ttl: int = 300) -> None:
        self.records.setdefault(self._key(name), []).append((rdtype.upper(), value, ttl))

    def remove(self, name: str) -> None:
        self.records.pop(self._key(name), None)

    def replace(self, name: str, rdtype: str, value: str, ttl: int = 300) -> None:
        key = self._key(name)
        kept = [r for r in self.records.get(key, []) if r[0] != rdtype.upper()]
        self.records[key] = [*kept, (rdtype.upper(), value, ttl)]

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA | dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = question.name.to_text().lower()
        if name in {self._key(n) for n in self.silent}:
            return None
        if name in {self._key(n) for n in self.servfail}:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        qtype = dns.rdatatype.to_text(question.rdtype)
        for _ in range(MAX_CHAIN):
            records = self.records.get(name)
            if records is None:
                if not response.answer:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return response
            cnames = [r for r in records if r[0] == "CNAME"]
            if cnames and qtype != "CNAME":
                _, target, ttl = cnames[0]
                response.answer.append(
                    dns.rrset.from_text(name, ttl, "IN", "CNAME", self._key(target))
                )
                name = self._key(target)
                continue
            matching = [r for r in records if r[0] == qtype]
            if matching:
                rrset = dns.rrset.from_text_list(
                    name, matching[0][2], "IN", qtype, [value for _, value, _ in matching]
                )
                response.answer.append(rrset)
            return response
        return response  # chain longer than MAX_CHAIN: what we have so far


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = self.server.handle(data)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


class DnsServer(LoopbackServer):
    def __init__(self, zone: Zone | None = None, host: str = "127.0.0.1") -> None:
        self.zone = zone if zone is not None else Zone()
        self.host = host
        self.port = 0
        self.queries: collections.Counter[tuple[str, str]] = collections.Counter()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        """The `ip:port` form that NTTD_DNS_SERVERS takes."""
        return f"{self.host}:{self.port}"

    def handle(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        if query.question:
            q = query.question[0]
            self.queries[(q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype))] += 1
        if query.question and query.question[0].name.to_text().lower() in {
                Zone._key(n) for n in self.zone.garbage}:
            return data[:2] + b"\x81\x80\xff\xff garbage"  # our id, then nonsense
        response = self.zone.answer(query)
        return None if response is None else response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = self.handle(await reader.readexactly(length))
                if wire is None:
                    continue
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        # TCP first on a free port, then UDP on the same port number.
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self.port = self._tcp.sockets[0].getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.host, self.port)
        )
        self._udp = transport
        return self

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        for writer in list(self._writers):
            writer.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()



def cymru_origin_name(ip: str) -> str:
    """The Team Cymru origin query name for an address (IPv4 or IPv6)."""
    import ipaddress

    addr = ipaddress.ip_address(ip)
    if addr.version == 4:
        return ".".join(reversed(ip.split("."))) + ".origin.asn.cymru.com"
    nibbles = addr.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + ".origin6.asn.cymru.com"


def add_cymru(zone: Zone, ip: str, asn: int, prefix: str, country: str, name: str,
              registry: str = "ripencc") -> None:
    """Teach the zone the two Team Cymru answers for one address."""
    origin = f'"{asn} | {prefix} | {country} | {registry} | 2020-01-01"'
    zone.replace(cymru_origin_name(ip), "TXT", origin)
    zone.replace(f"AS{asn}.asn.cymru.com", "TXT",
                 f'"{asn} | {country} | {registry} | 2001-01-01 | {name}, {country}"')
