"""Notices by email: the SMTP settings, the message, and its delivery.

The message is multipart/mixed: the plain-text body (UTF-8; URLs only
defanged), the JSON payload as an attachment named `report.json`, and, when the
caller passes them (notices to a provider: `notices.xarf_reports`), one X-ARF v4
report per URL named `xarf-1.json`, `xarf-2.json`, ... These JSON attachments are
the only place the exact URLs appear. There is never a text/html part, and no
media is ever attached.

`NTTD_SMTP_URL` takes the form `smtp://[user:pass@]host[:port][?starttls=yes|no]`
(port 25 by default) or `smtps://[user:pass@]host[:port]` (implicit TLS, port 465).
On `smtp://`, STARTTLS is required when the URL carries credentials or the port
is 587, and not used otherwise (a trusted local relay); `?starttls=` overrides.

Failures of `send_message` are all `DeliveryError`:
- temporary (retry later): connection refused/reset/closed, timeouts, TLS
  errors, any SMTP 4xx answer;
- permanent: an SMTP 5xx answer (sender, every recipient, or the data
  refused; authentication refused), or the server lacking something we
  require (STARTTLS, AUTH). Some recipients refused while others accepted
  counts as delivered.
Only a refusal at RCPT TO (4xx or 5xx) is the recipient address's own failure
(`DeliveryError.contact`); everything else is about our relay or our message.

The envelope sender (MAIL FROM, the later Return-Path) is given per message: nttd
uses a VERP address per notice (`notices.verp`) so that a bounce names the notice.

DKIM (optional): `DkimConfig` holds a PEM RSA key (PKCS#1, as `openssl genrsa`
writes it), a selector and a domain; `send_message` then signs the message as it is
handed over (dkimpy, relaxed/simple) over From, To, Subject, Date, Message-ID and
the MIME headers, and the `DKIM-Signature` header goes on top.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import dkim
import dkim.crypto

from notices.errors import DeliveryError
from notices.render import RenderedNotice

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_YES = {"1", "yes", "true", "on"}
_NO = {"0", "no", "false", "off"}
_CONNECTION_ERRORS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPServerDisconnected,
)


@dataclass(frozen=True, repr=False)
class SmtpConfig:
    """Where and how to hand notices over by SMTP."""

    host: str
    port: int
    use_tls: bool  # implicit TLS from the first byte (smtps://)
    starttls: bool  # upgrade a plain connection with STARTTLS; fail if not offered
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        password = None if self.password is None else "***"
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, use_tls={self.use_tls}, "
            f"starttls={self.starttls}, username={self.username!r}, password={password!r})"
        )


# The headers a DKIM signature covers (each only when the message has it).
DKIM_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version",
                b"Content-Type", b"Content-Transfer-Encoding", b"Auto-Submitted")


@dataclass(frozen=True, repr=False)
class DkimConfig:
    """What DKIM signing needs: the private key (PEM bytes), selector and domain."""

    selector: str
    domain: str
    private_key: bytes

    def __repr__(self) -> str:
        return f"DkimConfig(selector={self.selector!r}, domain={self.domain!r}, key=***)"


def load_dkim_key(path: str) -> bytes:
    """The PEM RSA private key in `path`; ValueError saying why it cannot be used."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1_000_000)
    except OSError as exc:
        raise ValueError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    try:
        dkim.crypto.parse_pem_private_key(data)
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError) as exc:
        raise ValueError(f"{path} holds no PEM RSA private key (PKCS#1, "
                         f"'BEGIN RSA PRIVATE KEY'): {exc}") from None
    return data


def dkim_sign(raw: bytes, config: DkimConfig) -> bytes:
    """`raw` (a whole message, CRLF line ends) with a DKIM-Signature header on top."""
    present = {line.split(b":", 1)[0].strip().lower()
               for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
               if line and line[:1] not in (b" ", b"\t")}
    headers = [h for h in DKIM_HEADERS if h.lower() in present]
    signature = dkim.sign(raw, config.selector.encode("ascii"), config.domain.encode("ascii"),
                          config.private_key, include_headers=headers)
    return bytes(signature) + raw


def _flag(values: list[str], url: str) -> bool:
    value = values[-1].strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ValueError(f"SMTP URL {url!r}: starttls must be yes or no, not {value!r}")


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse `smtp://[user:pass@]host[:port]` or `smtps://...`; ValueError if malformed."""
    shown = _without_password(url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"SMTP URL {shown!r}: the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError(f"SMTP URL {shown!r}: no host name")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"SMTP URL {shown!r}: the port must be a number 1-65535") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"SMTP URL {shown!r}: no path or fragment is allowed")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"SMTP URL {shown!r}: unknown option(s) {', '.join(sorted(unknown))}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError(f"SMTP URL {shown!r}: a password needs a user name")
    use_tls = scheme == "smtps"
    if "starttls" in query:
        starttls = _flag(query["starttls"], shown)
        if starttls and use_tls:
            raise ValueError(f"SMTP URL {shown!r}: smtps:// already uses TLS; drop starttls")
    else:
        starttls = not use_tls and (username is not None or port == 587)
    return SmtpConfig(parts.hostname, port, use_tls, starttls, username, password)


def _without_password(url: str) -> str:
    """The URL as it may appear in an error message: any password masked."""
    try:
        parts = urlsplit(url.strip())
        if parts.password is None:
            return url
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return parts._replace(netloc=f"{user}:***@{hostport}").geturl()
    except ValueError:
        return "<unparseable URL>"


def build_message(
    rendered: RenderedNotice,
    *,
    from_addr: str,
    to_addrs: Sequence[str],
    message_id_domain: str = "nttd.invalid",
    xarf_reports: Sequence[Mapping[str, Any]] = (),
) -> EmailMessage:
    """The email for a rendered notice: text/plain body, report.json and the X-ARF
    reports given (xarf-1.json, ...), nothing else."""
    if isinstance(to_addrs, str):
        raise TypeError("to_addrs must be a sequence of addresses, not one string")
    if not to_addrs:
        raise ValueError("a notice needs at least one recipient address")
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = rendered.subject
    message["From"] = from_addr
    message["To"] = ", ".join(to_addrs)
    sent_at = rendered.payload.get("sent_at")
    when = datetime.fromisoformat(sent_at) if isinstance(sent_at, str) else None
    message["Date"] = email.utils.format_datetime(when) if when else email.utils.formatdate()
    message["Message-ID"] = email.utils.make_msgid(domain=message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.body, subtype="plain", charset="utf-8")
    report = json.dumps(rendered.payload, ensure_ascii=False, indent=2, sort_keys=True)
    message.add_attachment(
        report.encode("utf-8"), maintype="application", subtype="json", filename="report.json"
    )
    for number, xarf_report in enumerate(xarf_reports, start=1):
        text = json.dumps(xarf_report, ensure_ascii=False, indent=2, sort_keys=True)
        message.add_attachment(text.encode("utf-8"), maintype="application", subtype="json",
                               filename=f"xarf-{number}.json")
    return message


def _classify(exc: aiosmtplib.SMTPException) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        temporary = any(not 500 <= code < 600 for code in codes)
        return DeliveryError(f"SMTP refused every recipient ({detail})", temporary=temporary,
                             contact=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # 5xx is a refusal; 4xx (and any malformed code) means "not now".
        temporary = not 500 <= exc.code < 600
        kind = type(exc).__name__
        return DeliveryError(f"SMTP {kind}: {exc.code} {exc.message}", temporary=temporary)
    if isinstance(exc, _CONNECTION_ERRORS):
        # The server may be back later.
        return DeliveryError(f"SMTP {type(exc).__name__}: {exc.message}", temporary=True)
    # SMTPNotSupported and plain SMTPException: the server lacks something we
    # require (STARTTLS, AUTH, SMTPUTF8); retrying will not change that.
    return DeliveryError(f"SMTP server cannot take the message: {exc.message}", temporary=False)


# The timeout parameter is part of the agreed API and is aiosmtplib's own per-step
# timeout (connect, each command), which asyncio.timeout around the call cannot replace.
async def send_message(
    message: EmailMessage,
    config: SmtpConfig,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
    envelope_from: str | None = None,
    dkim_config: DkimConfig | None = None,
) -> None:
    """Hand `message` to the SMTP server in `config`; DeliveryError if it was not accepted.

    `envelope_from` is the MAIL FROM address (default: the From header's); with
    `dkim_config` the message is DKIM-signed first."""
    data: EmailMessage | bytes = message
    sender = envelope_from
    recipients: list[str] | None = None
    if dkim_config is not None:
        # dkimpy's RSA is pure Python (~20 ms a 2048-bit signature here): off the loop.
        data = await asyncio.to_thread(dkim_sign, message.as_bytes(policy=policy.SMTP),
                                       dkim_config)
        sender = sender or email.utils.parseaddr(str(message["From"]))[1]
        recipients = [address for _, address in
                      email.utils.getaddresses([str(v) for v in message.get_all("To", [])])]
    try:
        await aiosmtplib.send(
            data,
            sender=sender,
            recipients=recipients,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.starttls,
            timeout=timeout,
        )
    except aiosmtplib.SMTPException as exc:
        raise _classify(exc) from exc
    except OSError as exc:  # refused, reset, unreachable, TLS failures (ssl.SSLError)
        raise DeliveryError(f"SMTP connection to {config.host}:{config.port} failed: {exc}",
                            temporary=True) from exc
