"""Assembly: the aiohttp application, with the workers running beside it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from nttd.api import SERVICES, add_routes, api_errors, auth_middleware, security_headers
from nttd.services import Services
from nttd.web import add_web_routes, web_headers, web_middleware
from nttd.workers import run_workers

STOP: web.AppKey[asyncio.Event] = web.AppKey("stop", asyncio.Event)


def make_app(svc: Services, *, with_workers: bool = True) -> web.Application:
    app = web.Application(middlewares=[api_errors, auth_middleware, web_middleware],
                          client_max_size=8 * 1024 * 1024)
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(web_headers)
    app[SERVICES] = svc
    add_routes(app)
    add_web_routes(app)
    if with_workers:
        app.cleanup_ctx.append(_workers)
    return app


async def _workers(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    app[STOP] = stop
    task = asyncio.create_task(run_workers(app[SERVICES], stop))
    yield
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=30)
