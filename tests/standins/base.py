"""What every loopback stand-in shares: `async with X() as x:` starts it, then stops it."""

from __future__ import annotations

from typing import Self


class LoopbackServer:
    async def start(self) -> Self:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
