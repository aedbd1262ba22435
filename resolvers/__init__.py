"""resolvers: facts about the internet, for nttd and anyone else.

A leaf library (it imports nothing from nttd or notices). One small module per
fact, each exporting a function and a frozen result dataclass:

    urls      canonicalize_url -> CanonicalURL     (InvalidURL on bad input)
    addresses non_public_reason, is_public_address (the one address policy)
    domain    registered_domain                    (bundled Public Suffix List)
    dns       make_resolver, resolve_addresses -> DnsAnswer
    asn       lookup_asn -> AsnInfo                (Team Cymru over DNS)
    rdap      Bootstrap, rdap_ip -> IpRdap, rdap_domain -> Registrar,
              rdap_autnum -> Autnum                (the abuse contact of an AS)
    cdn       detect_cdn -> Cdn                    (bundled CDN list)
    cache     FactCache, MemoryFactCache, Inflight (shared facts, coalescing)
    facts     cached_* lookups through a context's cache
    resolve   resolve_url -> Resolution            (all of the above, one URL)
    bootstrap_update  update_bootstrap             (refresh the IANA files)

The outside world (DNS resolver, HTTP session, clock) is always injected.
"""

from __future__ import annotations

from resolvers.addresses import is_public_address, non_public_reason
from resolvers.asn import AsnInfo, lookup_asn
from resolvers.cache import FactCache, Inflight, MemoryFactCache
from resolvers.cdn import Cdn, detect_cdn
from resolvers.dns import DnsAnswer, make_resolver, resolve_addresses
from resolvers.domain import registered_domain
from resolvers.errors import BootstrapError, InvalidURL, ResolverError
from resolvers.rdap import Autnum, Bootstrap, IpRdap, Registrar, rdap_autnum, rdap_domain, rdap_ip
from resolvers.rdap_client import RdapClient, RdapLimits
from resolvers.resolve import (
    AddressFacts,
    Hosting,
    Provenance,
    Resolution,
    ResolverContext,
    private_reason,
    resolve_url,
)
from resolvers.urls import CanonicalURL, canonicalize_url

__all__ = [
    "AddressFacts",
    "AsnInfo",
    "Autnum",
    "Bootstrap",
    "BootstrapError",
    "CanonicalURL",
    "Cdn",
    "DnsAnswer",
    "FactCache",
    "Hosting",
    "Inflight",
    "InvalidURL",
    "IpRdap",
    "MemoryFactCache",
    "Provenance",
    "RdapClient",
    "RdapLimits",
    "Registrar",
    "Resolution",
    "ResolverContext",
    "ResolverError",
    "canonicalize_url",
    "detect_cdn",
    "is_public_address",
    "lookup_asn",
    "make_resolver",
    "non_public_reason",
    "private_reason",
    "rdap_autnum",
    "rdap_domain",
    "rdap_ip",
    "registered_domain",
    "resolve_addresses",
    "resolve_url",
]
