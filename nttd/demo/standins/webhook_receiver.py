"""A real HTTP server on loopback that records webhook POSTs, for tests.

    async with WebhookReceiver() as receiver:
        receiver.url                    # "http://127.0.0.1:PORT/hook"
        receiver.status = 500           # what it answers from now on
        receiver.requests[0].body       # the raw bytes, to verify a signature on

Every request to any path is recorded (with its `path` and `method`), so a test
can prove that a redirect target was never contacted. When `status` is a 3xx the
answer carries `Location: <redirect_to>` (by default this server's `/elsewhere`).
`answer` is the body sent back (e.g. an error text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from nttd.demo.standins.base import LoopbackServer


@dataclass(frozen=True)
class ReceivedHook:
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None if it was not JSON
    path: str = "/hook"
    method: str = "POST"


class WebhookReceiver(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.status = 200
        self.answer = ""
        self.redirect_to: str | None = None
        self.requests: list[ReceivedHook] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    async def _record(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        self.requests.append(
            ReceivedHook(dict(request.headers), body, parsed, request.path, request.method)
        )
        headers = {}
        if 300 <= self.status < 400:
            headers["Location"] = self.redirect_to or f"http://{self.host}:{self.port}/elsewhere"
        return web.Response(status=self.status, text=self.answer, headers=headers)

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

