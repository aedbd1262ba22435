"""The demo's mail viewer: what the SMTP sink received, in the web UI at /demo/mail.

Only the demo adds these pages (the service has no mailbox of its own). They need a
signed-in analyst, coordinator or admin, like the statistics.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable
from typing import Any

from aiohttp import web

from nttd.auth import Role
from nttd.demo.standins.smtp_sink import ReceivedMail
from nttd.web.base import context, require
from nttd.web.render import environment

MAIL_PATH = "/demo/mail"
SHOWN = 200  # newest messages in the list

LIST = """{% extends "base.html" %}
{% block title %}Demo mail{% endblock %}
{% block main %}
<h1>Mail the demo's SMTP sink received</h1>
<p>{{ total }} message(s); the newest {{ mails|length }} first. Notices to hosts, CDNs and
registrars, reports to the e-mail partner, and reminders all arrive here.</p>
<table>
<thead><tr><th>#</th><th>To</th><th>Subject</th><th>Date</th></tr></thead>
<tbody>
{% for number, mail in mails %}
<tr><td><a href="{{ path }}/{{ number }}">{{ number }}</a></td>
<td>{{ mail.rcpt_tos|join(", ") }}</td>
<td><a href="{{ path }}/{{ number }}">{{ mail.message["Subject"] or "(no subject)" }}</a></td>
<td>{{ mail.message["Date"] or "" }}</td></tr>
{% else %}
<tr><td colspan="4">Nothing yet: notices go out a few seconds after the first cases.</td></tr>
{% endfor %}
</tbody>
</table>
{% endblock %}
"""

ONE = """{% extends "base.html" %}
{% block title %}Demo mail {{ number }}{% endblock %}
{% block main %}
<p><a href="{{ path }}">All mail</a></p>
<h1>{{ mail.message["Subject"] or "(no subject)" }}</h1>
<table>
<tr><th>Envelope from</th><td>{{ mail.mail_from }}</td></tr>
<tr><th>Envelope to</th><td>{{ mail.rcpt_tos|join(", ") }}</td></tr>
{% for name, value in headers %}<tr><th>{{ name }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>
<h2>Text</h2>
<pre>{{ text }}</pre>
{% for name, type, content in parts %}
<h2>Attachment {{ name }} ({{ type }})</h2>
<pre>{{ content }}</pre>
{% endfor %}
{% endblock %}
"""

HEADERS = ("From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "Content-Language")


def _text(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    content = body.get_content()
    return content if isinstance(content, str) else ""


def _parts(message: email.message.EmailMessage) -> list[tuple[str, str, str]]:
    """The text attachments (an X-ARF report is JSON): name, type and content."""
    shown = []
    for part in message.iter_attachments():
        if part.get_content_maintype() not in ("text", "application"):
            continue
        content: Any = part.get_content()
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError:
                continue
        shown.append((part.get_filename() or "", part.get_content_type(), str(content)))
    return shown


def add_mail_routes(app: web.Application, mails: Callable[[], list[ReceivedMail]]) -> None:
    env = environment()
    list_page = env.from_string(LIST)
    one_page = env.from_string(ONE)

    def respond(html: str) -> web.Response:
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def mail_list(request: web.Request) -> web.Response:
        require(request, Role.ANALYST, Role.COORDINATOR)
        received = mails()
        newest = list(enumerate(received, 1))[-SHOWN:][::-1]
        return respond(list_page.render(**context(request, mails=newest, total=len(received),
                                                  path=MAIL_PATH)))

    async def mail_one(request: web.Request) -> web.Response:
        require(request, Role.ANALYST, Role.COORDINATOR)
        received = mails()
        try:
            number = int(request.match_info["number"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not 1 <= number <= len(received):
            raise web.HTTPNotFound()
        mail = received[number - 1]
        headers = [(name, str(mail.message[name])) for name in HEADERS
                   if mail.message[name] is not None]
        return respond(one_page.render(**context(
            request, mail=mail, number=number, headers=headers, text=_text(mail.message),
            parts=_parts(mail.message), path=MAIL_PATH)))

    app.router.add_get(MAIL_PATH, mail_list)
    app.router.add_get(MAIL_PATH + "/{number}", mail_one)
