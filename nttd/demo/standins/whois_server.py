"""A port-43 WHOIS server stand-in (RFC 3912) on loopback: raw asyncio, bytes under control.

    async with WhoisServer() as whois:
        whois.answers["example.eu"] = FIXTURE_TEXT   # query (lower case) -> answer
        whois.address                                # "127.0.0.1:4xxxx"
        whois.modes["slow.eu"] = "slow"              # per query; whois.mode for all
        whois.queries                                # Counter of queries asked

Each connection reads one line (the query), answers and closes, as RFC 3912
says. Modes: ``normal`` (the answer, CRLF line ends, or "No match" for an
unknown query), ``slow`` (slow loris: one byte every ``drip_interval`` seconds,
forever), ``huge`` (``huge_bytes`` of WHOIS-looking lines), ``close`` (close at
once, nothing sent), ``garbage`` (bytes that are not text). A thin registry
that refers to a registrar is just an answer holding a "Registrar WHOIS
Server:" line; the registrar is a second instance.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from nttd.demo.standins.base import StreamServer

MODES = ("normal", "slow", "huge", "close", "garbage")


class WhoisServer(StreamServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.answers: dict[str, str] = {}
        self.modes: dict[str, str] = {}
        self.mode = "normal"
        self.drip_interval = 0.05
        self.huge_bytes = 4 * 1024 * 1024
        self.queries: collections.Counter[str] = collections.Counter()
        self.bytes_sent = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> WhoisServer:
        await self._listen(self._serve)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client hung up (a capped or timed-out read): expected
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        self.bytes_sent += len(data)
        await writer.drain()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout=5)
        query = line.decode("utf-8", errors="replace").strip().lower()
        self.queries[query] += 1
        mode = self.modes.get(query, self.mode)
        if mode == "close":
            return
        if mode == "slow":
            while True:
                await self._send(writer, b"%")
                await asyncio.sleep(self.drip_interval)
        if mode == "huge":
            block = b"Registrar Abuse Contact Email: abuse@example.net\r\n" * 1024
            for _ in range(self.huge_bytes // len(block) + 1):
                await self._send(writer, block)
            return
        if mode == "garbage":
            await self._send(writer, bytes(range(256)) * 16)
            return
        text = self.answers.get(query, f'No match for "{query.upper()}".\n')
        await self._send(writer, text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
