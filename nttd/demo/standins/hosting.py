"""A hosting server stand-in: raw asyncio HTTP/1.1 on loopback, bytes under control.

It is not aiohttp.web on purpose: tests must be able to send a body to HEAD,
trickle a huge body, never answer, or send oversized headers, and must see how
many body bytes went out before the client hung up.

    async with HostingServer("127.0.0.2") as server:
        server.route("/img/1.jpg", status=200, body_size=50_000_000, trickle=True)
        url = server.url("/img/1.jpg")            # http://127.0.0.2:4xxxx/img/1.jpg
        ...                                      # run the checker
        server.route("/img/1.jpg", status=404)    # the content was removed
        await server.settle()                     # all connections finished
        server.requests         # [RecordedRequest(method, path, headers, connection)]
        server.body_bytes_sent  # per connection: body bytes written
        server.closed_early     # per connection: peer closed before the body was done

Unknown paths get the default route (404). Routes can change at any time. A route
with `cycle=(200, 503, 404)` answers those statuses in turn (a flaky host).
Pass `ssl_context` for HTTPS. No content is real: bodies are filler bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from http import HTTPStatus

from nttd.demo.standins.base import StreamServer

MAX_REQUEST_HEAD = 65536
FILLER = b"\0" * 65536


@dataclass(frozen=True)
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body_size: int = 0
    head_status: int | None = None  # e.g. 405 to refuse HEAD
    head_body: bool = False  # send a stray body after a HEAD response
    head_body_delay: float = 0.0  # 0: in the same write as the headers; else after a pause
    trickle: bool = False  # send the body slowly, trickle_chunk every trickle_interval
    trickle_chunk: int = 1024
    trickle_interval: float = 0.01
    hang: bool = False  # read the request, never answer
    cycle: tuple[int, ...] = ()  # statuses answered in turn, request by request (a flaky host)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    connection: int  # index into server.connections


@dataclass
class ConnectionRecord:
    index: int
    peer: str
    requests: int = 0
    body_bytes_sent: int = 0
    closed_early: bool = False
    finished: bool = False


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class HostingServer(StreamServer):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        default: Route | None = None,
    ) -> None:
        super().__init__(host, port)
        self.ssl_context = ssl_context
        self.default = default if default is not None else Route(status=404)
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.connections: list[ConnectionRecord] = []
        self._turns: dict[str, int] = {}

    # -- configuration -------------------------------------------------------

    def route(
        self,
        path: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body_size: int = 0,
        head_status: int | None = None,
        head_body: bool = False,
        head_body_delay: float = 0.0,
        trickle: bool = False,
        hang: bool = False,
        trickle_chunk: int = 1024,
        trickle_interval: float = 0.01,
        cycle: tuple[int, ...] = (),
    ) -> None:
        self.routes[path] = Route(
            status=status,
            headers=dict(headers or {}),
            body_size=body_size,
            head_status=head_status,
            head_body=head_body,
            head_body_delay=head_body_delay,
            trickle=trickle,
            trickle_chunk=trickle_chunk,
            trickle_interval=trickle_interval,
            hang=hang,
            cycle=cycle,
        )

    def unroute(self, path: str) -> None:
        self.routes.pop(path, None)

    def url(self, path: str = "/", host: str | None = None) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    # -- what happened -------------------------------------------------------

    @property
    def body_bytes_sent(self) -> list[int]:
        return [c.body_bytes_sent for c in self.connections]

    @property
    def closed_early(self) -> list[bool]:
        return [c.closed_early for c in self.connections]

    def paths_requested(self) -> list[str]:
        return [r.path for r in self.requests]

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every connection handler has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    # -- serving -------------------------------------------------------------

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str]] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)  # a request body is read and dropped
        return parts[0], parts[1], headers

    async def _send_body(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: ConnectionRecord,
        route: Route,
        size: int,
    ) -> bool:
        """Write `size` filler bytes; False when the peer went away first."""
        chunk = route.trickle_chunk if route.trickle else len(FILLER)
        sent = 0
        while sent < size:
            if reader.at_eof() or writer.is_closing():
                return False
            piece = FILLER[: min(chunk, size - sent)]
            try:
                writer.write(piece)
                record.body_bytes_sent += len(piece)
                sent += len(piece)
                await writer.drain()
            except ConnectionError:
                return False
            if route.trickle:
                await asyncio.sleep(route.trickle_interval)
        return True

    async def _respond(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: ConnectionRecord,
        method: str,
        path: str,
        route: Route,
    ) -> bool:
        """Answer one request; False when the connection must end."""
        if route.hang:
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until the client gives up
            record.closed_early = True
            return False
        head = method == "HEAD"
        status = route.head_status if head and route.head_status is not None else route.status
        if route.cycle:
            turn = self._turns.get(path, 0)
            self._turns[path] = turn + 1
            status = route.cycle[turn % len(route.cycle)]
        refused_head = head and route.head_status is not None
        body_size = 0 if refused_head else route.body_size
        headers = {} if refused_head else dict(route.headers)
        if refused_head:
            headers["Allow"] = "GET"
        if not any(k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = str(body_size)
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        response_head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        stray = (route.body_size or 512) if head and route.head_body else 0
        try:
            if stray and not route.head_body_delay:  # one write: likely one segment
                writer.write(response_head + FILLER[:stray])
                record.body_bytes_sent += stray
                stray = 0
            else:
                writer.write(response_head)
            await writer.drain()
        except ConnectionError:
            record.closed_early = True
            return False
        if head:
            if stray:
                await asyncio.sleep(route.head_body_delay)
                if not await self._send_body(reader, writer, record, route, stray):
                    record.closed_early = True
                    return False
            return True
        if not await self._send_body(reader, writer, record, route, body_size):
            record.closed_early = True
            return False
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        record = ConnectionRecord(index=len(self.connections), peer=str(peer[0]) if peer else "")
        self.connections.append(record)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                method, path, headers = request
                record.requests += 1
                self.requests.append(RecordedRequest(method, path, headers, record.index))
                route = self.routes.get(path.split("?", 1)[0], self.default)
                keep_going = await self._respond(reader, writer, record, method, path, route)
                if not keep_going or headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, ssl.SSLError):
            record.closed_early = True
        finally:
            record.finished = True
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def start(self) -> HostingServer:
        await self._listen(self._serve, ssl=self.ssl_context, limit=MAX_REQUEST_HEAD)
        return self

