"""The verdicts of an availability check: what a headers-only probe can say about
a URL. Shared vocabulary (the settings name them in NTTD_REMOVAL_VERDICTS; the
probe in `nttd.checks` gives them)."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    ONLINE = "online"  # 2xx
    GONE = "gone"  # 404, 410
    DNS_GONE = "dns_gone"  # NXDOMAIN (or no address records) for the host
    REDIRECTED_AWAY = "redirected_away"  # 3xx to another host or the front page
    REDIRECTED = "redirected"  # 3xx to another path on the same host (or no Location)
    BLOCKED = "blocked"  # 401, 403, 451
    CLIENT_ERROR = "client_error"  # other 4xx
    SERVER_ERROR = "server_error"  # 5xx
    UNREACHABLE = "unreachable"  # refused, reset, timeout, bad HTTP, DNS SERVFAIL/timeout
    TLS_ERROR = "tls_error"  # handshake or certificate failure
    REFUSED = "refused"  # not checked: address not allowed by the guard, or not an http(s) URL
