"""A real SMTP server on loopback that keeps every message it accepts, for tests.

    async with SmtpSink() as sink:
        sink.url                 # "smtp://127.0.0.1:PORT" (what NTTD_SMTP_URL takes)
        ...send...
        sink.messages[0].message["Subject"], sink.messages[0].rcpt_tos

It is aiosmtpd's SMTP protocol served with `loop.create_server` (aiosmtpd's
Controller(port=0) fails on these machines). `stop()` closes the listener and
every open connection, so a client then gets "connection refused"; `restart()`
listens again on the same port (outage tests).

To make it refuse: set `rcpt_reply` (e.g. "550 5.1.1 no such user" or
"451 4.3.0 try later") to answer every RCPT TO with it, `rcpt_replies[address]`
to answer RCPT TO of one address (lower case) with it, or `data_reply` to
answer the end of DATA with it (the message is then not kept).
"""

from __future__ import annotations

import asyncio
import email.message
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from nttd.demo.standins.base import LoopbackServer


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.sink.rcpt_reply is not None:
            return self.sink.rcpt_reply
        if address.lower() in self.sink.rcpt_replies:
            return self.sink.rcpt_replies[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.data_reply is not None:
            return self.sink.data_reply
        raw = envelope.content
        assert isinstance(raw, bytes)
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, email.message.EmailMessage)
        self.sink.messages.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw)
        )
        return "250 Message accepted"


class SmtpSink(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.messages: list[ReceivedMail] = []
        self.rcpt_reply: str | None = None
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None
        self._server: asyncio.Server | None = None
        self._protocols: set[SMTP] = set()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def _protocol(self) -> SMTP:
        protocol = _TrackedSMTP(
            self, _Handler(self), hostname="sink.example", loop=asyncio.get_running_loop()
        )
        self._protocols.add(protocol)
        return protocol

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for protocol in list(self._protocols):
            if protocol.transport is not None:
                protocol.transport.close()
        await self._server.wait_closed()
        self._server = None
        # Let the closed connections run their connection_lost callbacks.
        for _ in range(3):
            if not self._protocols:
                break
            await asyncio.sleep(0)

    async def restart(self) -> None:
        """Listen again on the same port after `stop()`."""
        await self.stop()
        await self.start()



class _TrackedSMTP(SMTP):
    """aiosmtpd's SMTP protocol that tells the sink when its connection ends."""

    def __init__(self, sink: SmtpSink, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sink = sink

    def connection_lost(self, error: Exception | None) -> None:
        self._sink._protocols.discard(self)
        super().connection_lost(error)
