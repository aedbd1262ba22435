"""Port-43 WHOIS (RFC 3912): the registrar of a domain whose TLD has no RDAP service.

What comes from the ``asyncwhois`` library (MIT): the TLD -> WHOIS server table
(``asyncwhois.servers``) and its per-TLD text parsers (``DomainParser``). What
does not: the transport. Its ``Query`` reads until EOF without a size cap, its
time limit is per socket operation (a server dripping one byte a second never
times out), it follows referrals until one repeats, and one class-level port
serves every hop. Subclassing would mean overriding all of that, so the
transport here is our own ~40 lines: connect, send ``domain\\r\\n``, read to EOF,
with one deadline for the whole exchange (connect + send + read), a size cap,
at most one referral hop and a per-TLD (or per-host) server override.

Where the work runs, and why:

* the socket work runs in a small dedicated thread pool (``WhoisConfig.threads``,
  default 4), never on the event loop nor in its default executor (aiohttp's DNS);
  a server's name is resolved there by the system resolver (``getaddrinfo``: its
  own time limits apply, the deadline cannot cut it short);
* the parsing runs in a child process (``_ParserProcess``), killed past
  ``parse_timeout``. The library's regular expressions take time quadratic in a
  hostile answer (measured: 269 s for 256 KiB of "Registrar" on the .it parser,
  0.3 s for 4 KiB on .kz) and hold the GIL meanwhile, so a thread alone would
  freeze the event loop (measured: 2 ticks of a 10 ms ticker in 3.5 s).

``whois_domain`` never raises: like ``resolvers.rdap`` it returns a ``Registrar``
whose ``error`` says what went wrong (``rdap_url`` holds ``whois://server``):

* a FACT (``retryable=False``): no WHOIS server known for the TLD, "no match"
  (the domain is not registered), an answer too large, an answer that names no
  registrar or could not be read in time (garbage, hostile), a name that is not
  a domain name;
* could not find out (``retryable=True``): timeout, connection refused or reset,
  a server that closes without answering or says its query limit is exceeded,
  a host name that does not resolve.

A referral ("Registrar WHOIS Server:" in a thin registry's answer) is followed
once, only when it is a host name (never a URL), and, unless ``allow_private``,
only to public addresses (as ``resolvers.addresses`` decides). The registrar's
answer completes the registry's; if the registrar cannot be asked, the
registry's facts stand on their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from resolvers.addresses import is_public_address, non_public_reason
from resolvers.errors import LookupFailed, LookupRejected, LookupUnavailable, RecordNotFound
from resolvers.rdap import Registrar

__all__ = ["DEFAULT_PORT", "MAX_BYTES", "WhoisConfig", "parse_whois_servers", "whois_domain"]

DEFAULT_PORT = 43
MAX_BYTES = 256 * 1024
_STARTUP_TIMEOUT = 30.0  # seconds the parser process may take to import the library
_HOST = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))+")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_REFERRAL = re.compile(r"^[ \t]*Registrar WHOIS Server:[ \t]*(\S{0,300})[ \t]*$",
                       re.IGNORECASE | re.MULTILINE)
_BUSY = re.compile(r"limit exceeded|too many (?:queries|requests)|try again later",
                   re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---- configuration ------------------------------------------------------------------


def _host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IP -> (host, port or None)."""
    text = text.strip().lower()
    if not text or any(c in text for c in "/@ \t"):
        raise ValueError(f"{text!r} is not host[:port]")
    port: str | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError(f"{text!r} is not host[:port]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not host[:port]")
            port = rest[1:]
        ipaddress.IPv6Address(host)
    elif text.count(":") > 1:
        host = str(ipaddress.IPv6Address(text))
    else:
        host, sep, port_text = text.partition(":")
        port = port_text if sep else None
        if not _is_ip(host) and not _HOST.fullmatch(host) and not _LABEL.fullmatch(host):
            raise ValueError(f"{host!r} is not a host name or IP address")
    if port is None:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: bad port")
    return host, int(port)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_whois_servers(text: str) -> dict[str, str]:
    """``"tld=host[:port],whois.host.example=host[:port]"`` -> mapping (ValueError if bad).

    A key without a dot is a TLD (its registry's server); a dotted key is a WHOIS
    server name (where to reach it instead, e.g. a referral target)."""
    servers: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower().strip(".")
        if not sep or not value.strip():
            raise ValueError(f"{item!r} is not key=host[:port]")
        if not (_LABEL.fullmatch(key) or _HOST.fullmatch(key)):
            raise ValueError(f"{key!r} is not a TLD or a WHOIS server name")
        _host_port(value)
        servers[key] = value.strip()
    return servers


class WhoisRuntime:
    """What the lookups through one ``WhoisConfig`` share: the thread pool, the parser.

    Built lazily; ``close`` stops both (idempotent; a later lookup starts them again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.parser = _ParserProcess()

    def pool(self, threads: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=threads,
                                                thread_name_prefix="nttd-whois")
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self.parser.close()


@dataclass(frozen=True)
class WhoisConfig:
    """How port-43 WHOIS is asked; ``servers`` overrides the library's table."""

    servers: Mapping[str, str] = field(default_factory=dict, hash=False)
    port: int = DEFAULT_PORT  # for servers named without a port (table, referrals)
    timeout: float = 10.0  # seconds for one exchange: connect, send, read to EOF
    max_bytes: int = MAX_BYTES  # a longer answer is an error
    parse_timeout: float = 2.0  # seconds the parser may take for one answer
    threads: int = 4  # socket exchanges at the same time
    enabled: bool = True
    allow_private: bool = False  # follow referrals to non-public addresses (tests)
    runtime: WhoisRuntime = field(default_factory=WhoisRuntime, compare=False, repr=False)

    def __post_init__(self) -> None:
        servers = {str(k).lower().strip("."): str(v) for k, v in self.servers.items()}
        for value in servers.values():
            _host_port(value)  # ValueError now, not at the first lookup
        object.__setattr__(self, "servers", MappingProxyType(servers))
        if self.timeout <= 0 or self.parse_timeout <= 0 or self.max_bytes < 1 or self.threads < 1:
            raise ValueError("timeouts, max_bytes and threads must be positive")

    def close(self) -> None:
        self.runtime.close()  # the thread pool and the parser process


@dataclass(frozen=True)
class _Target:
    name: str  # as named (table, override key or referral)
    host: str  # where to connect
    port: int
    trusted: bool  # configured or from the library's table; a referral is not

    @property
    def url(self) -> str:
        name = f"[{self.name}]" if ":" in self.name else self.name
        return f"whois://{name}" + ("" if self.port == DEFAULT_PORT else f":{self.port}")


def _target(name: str, config: WhoisConfig, *, trusted: bool) -> _Target:
    override = config.servers.get(name)
    if override is not None:
        host, port = _host_port(override)
        return _Target(name if "." in name else host, host, port or config.port, True)
    host, port = _host_port(name)
    return _Target(host, host, port or config.port, trusted)


def _library_server(tld: str) -> str | None:
    from asyncwhois.servers.domains import CountryCodeTLD, GenericTLD, SponsoredTLD

    attribute = tld.upper().replace("-", "_")
    for table in (CountryCodeTLD, GenericTLD, SponsoredTLD):
        value = getattr(table, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def _registry(tld: str, config: WhoisConfig) -> _Target | None:
    if tld in config.servers:
        return _target(tld, config, trusted=True)
    server = _library_server(tld)
    return None if server is None else _target(server.lower(), config, trusted=True)


# ---- the transport (runs in a worker thread) ----------------------------------------


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _address(target: _Target, allow_private: bool) -> str:
    if _is_ip(target.host):
        candidates = [target.host]
    else:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        candidates = [str(info[4][0]) for info in infos]
    if target.trusted or allow_private:
        return candidates[0]
    public = [a for a in candidates if is_public_address(a)]
    if not public:
        why = f"{candidates[0]} is {non_public_reason(candidates[0])}"
        raise LookupRejected(f"referral to {target.name} refused: not a public address ({why})")
    return public[0]


def _exchange(target: _Target, query: bytes, deadline: float, config: WhoisConfig) -> bytes:
    """RFC 3912 in one blocking call: connect, send, read to EOF, before ``deadline``."""
    where = target.url
    received = bytearray()
    try:
        address = _address(target, config.allow_private)
        with socket.create_connection((address, target.port), timeout=_left(deadline)) as sock:
            sock.settimeout(_left(deadline))
            sock.sendall(query)
            while True:
                sock.settimeout(_left(deadline))
                chunk = sock.recv(min(65536, config.max_bytes + 1 - len(received)))
                if not chunk:
                    break
                received += chunk
                if len(received) > config.max_bytes:
                    raise LookupRejected(
                        f"{where}: answer too large (more than {config.max_bytes} bytes)")
    except TimeoutError:
        raise LookupUnavailable(
            f"{where}: no complete answer within {config.timeout:g}s") from None
    except socket.gaierror as exc:
        raise LookupUnavailable(f"{where}: cannot resolve {target.host}: {exc.strerror}") from None
    except ConnectionRefusedError:
        raise LookupUnavailable(f"{where}: connection refused") from None
    except ConnectionResetError:
        raise LookupUnavailable(f"{where}: connection reset") from None
    except OSError as exc:
        raise LookupUnavailable(f"{where}: {exc.strerror or exc}") from None
    if not received.strip():
        raise LookupUnavailable(f"{where}: closed the connection without answering")
    return bytes(received)


# ---- the parser (runs in a child process) -------------------------------------------


_KEYS = ("name", "iana_id", "abuse_email", "abuse_phone")


def _parse_text(text: str, tld: str) -> dict[str, Any]:
    """asyncwhois's parser for ``tld`` on ``text``: our four facts and "not found"."""
    from asyncwhois.errors import NotFoundError
    from asyncwhois.parse import TLDBaseKeys
    from asyncwhois.parse_tld import DomainParser

    not_found = False
    try:
        parsed = DomainParser().parse(text, tld)
    except NotFoundError:
        not_found = True
        parsed = DomainParser(ignore_not_found=True).parse(text, tld)
    keys = (TLDBaseKeys.REGISTRAR, TLDBaseKeys.REGISTRAR_IANA_ID,
            TLDBaseKeys.REGISTRAR_ABUSE_EMAIL, TLDBaseKeys.REGISTRAR_ABUSE_PHONE)
    out: dict[str, Any] = {name: parsed.get(key) for name, key in zip(_KEYS, keys, strict=True)}
    out = {k: v if isinstance(v, str) else None for k, v in out.items()}
    out["not_found"] = not_found
    return out


def serve_parser() -> None:
    """The child process: one JSON request per line on stdin, one answer per line out."""
    import asyncwhois.parse_tld  # noqa: F401  (import once, before saying ready)

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            answer = _parse_text(str(request["text"]), str(request["tld"]))
        except Exception as exc:  # a parser bug on hostile text is an answer, not a crash
            answer = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        out.write(json.dumps(answer) + "\n")
        out.flush()


class _ParserProcess:
    """A child process running ``serve_parser``; killed when one parse takes too long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-P", "-c", "from resolvers.whois import serve_parser; "
             "serve_parser()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        if self._read_line(proc, _STARTUP_TIMEOUT) != b"ready\n":
            self._kill(proc)
            raise LookupUnavailable("the WHOIS parser process did not start")
        return proc

    @staticmethod
    def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes | None:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        return proc.stdout.readline() if ready else None

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def parse(self, text: str, tld: str, timeout: float, where: str) -> dict[str, Any]:
        """Blocking: the parsed facts of ``text`` (LookupFailed past ``timeout``)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps({"text": text, "tld": tld}).encode() + b"\n")
                proc.stdin.flush()
                line = self._read_line(proc, timeout)
            except OSError:
                line = b""
            if not line:
                self._kill(proc)
                self._proc = None
                if line is None:
                    raise LookupRejected(f"{where}: the answer could not be read within "
                                         f"{timeout:g}s (malformed or hostile)")
                raise LookupUnavailable("the WHOIS parser process stopped")
        answer = json.loads(line)
        if not isinstance(answer, dict) or "error" in answer:
            raise LookupRejected(f"{where}: the answer could not be read")
        return answer

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            self._kill(proc)


# ---- the lookup ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    name: str | None = None
    iana_id: str | None = None
    abuse_emails: tuple[str, ...] = ()
    abuse_phone: str | None = None
    not_found: bool = False

    @property
    def useful(self) -> bool:
        return bool(self.name or self.iana_id or self.abuse_emails)


def _clean(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub(" ", value).strip()
    return text[:limit] or None


def _facts(parsed: dict[str, Any]) -> _Facts:
    email = _clean(parsed.get("abuse_email"), 254)
    emails = (email,) if email and "@" in email and " " not in email else ()
    return _Facts(_clean(parsed.get("name")), _clean(parsed.get("iana_id"), 20), emails,
                  _clean(parsed.get("abuse_phone"), 40), bool(parsed.get("not_found")))


def _domain_name(domain: str) -> str:
    name = domain.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise LookupRejected(f"{domain!r} is not a domain name") from None
    if not _HOST.fullmatch(name) or _is_ip(name):
        raise LookupRejected(f"{domain!r} is not a domain name")
    return name


async def _ask(target: _Target, name: str, tld: str, config: WhoisConfig) -> tuple[_Facts, str]:
    """One exchange and its parse, both off the event loop: (facts, the answer's text)."""
    loop = asyncio.get_running_loop()
    pool = config.runtime.pool(config.threads)
    deadline = time.monotonic() + config.timeout  # waiting for a free thread counts too
    raw = await loop.run_in_executor(pool, _exchange, target, f"{name}\r\n".encode(),
                                     deadline, config)
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    parsed = await loop.run_in_executor(pool, config.runtime.parser.parse, text, tld,
                                        config.parse_timeout, target.url)
    return _facts(parsed), text


def _referral(text: str, asked: _Target, config: WhoisConfig) -> _Target | None:
    match = _REFERRAL.search(text)
    if match is None:
        return None
    named = match.group(1).lower().rstrip(".")
    if not (_HOST.fullmatch(named) or _is_ip(named)):
        return None  # a URL, a port, garbage: not followed
    target = _target(named, config, trusted=False)
    if (target.host, target.port) == (asked.host, asked.port):
        return None  # the registry itself
    return target


async def _lookup(domain: str, config: WhoisConfig) -> Registrar:
    name = _domain_name(domain)
    tld = name.rsplit(".", 1)[-1]
    registry = _registry(tld, config)
    if registry is None:
        raise LookupRejected(f"no WHOIS server known for the TLD of {name}")
    facts, text = await _ask(registry, name, tld, config)
    source = registry
    referral = _referral(text, registry, config)
    if referral is not None:
        try:
            theirs, _ = await _ask(referral, name, "com", config)  # registrars: ICANN format
        except LookupFailed:
            if facts.useful:
                theirs = _Facts()  # the registry's facts stand on their own
            else:
                raise
        if theirs.useful:
            facts = _Facts(facts.name or theirs.name, facts.iana_id or theirs.iana_id,
                           theirs.abuse_emails or facts.abuse_emails,
                           theirs.abuse_phone or facts.abuse_phone)
            source = referral
    if not facts.useful:
        if facts.not_found:
            raise RecordNotFound(f"{name} not found at {source.url}")
        if _BUSY.search(text[:4096]):
            raise LookupUnavailable(f"{source.url}: query limit exceeded")
        raise LookupRejected(f"the answer from {source.url} names no registrar")
    return Registrar(facts.name, facts.iana_id, facts.abuse_emails, facts.abuse_phone,
                     source.url, error=None)


async def whois_domain(domain: str, config: WhoisConfig) -> Registrar:
    """The registrar of ``domain`` from port-43 WHOIS; never raises."""
    try:
        return await _lookup(domain, config)
    except LookupFailed as exc:
        return Registrar(None, None, (), None, None, error=f"whois: {exc}",
                         retryable=exc.retryable)
