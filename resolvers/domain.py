"""The registrable domain of a host: the name a registrar sells.

``registered_domain("www.example.co.uk") == "example.co.uk"``. Only the ICANN
section of the Public Suffix List counts: a private suffix such as
``blogspot.com`` is not a registry, so ``x.blogspot.com`` gives ``blogspot.com``,
the domain whose registrar answers for it.

The list is the snapshot bundled with tldextract: it is never downloaded. The
extractor is built once, lazily, and only read afterwards. A host that is an IP
literal, a bare public suffix or under an unknown top-level domain has no
registrable domain (None): a fact, not an error.
"""

from __future__ import annotations

import functools
import ipaddress

import tldextract

__all__ = ["registered_domain"]


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() and cache_dir=None: use the bundled snapshot, never download.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(host: str) -> str | None:
    """The registrable domain of ``host`` (lower-case ASCII), or None when there is none."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return None
    found = _extractor()(name).top_domain_under_registry_suffix
    return found or None
