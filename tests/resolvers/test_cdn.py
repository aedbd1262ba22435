from __future__ import annotations

from resolvers.cdn import Cdn, cdn_catalogue, detect_cdn


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
    assert {"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront", "Google Cloud CDN",
            "Azure Front Door", "Bunny", "Imperva", "DDoS-Guard", "Sucuri", "G-Core",
            "CDN77"} <= names


def test_match_by_published_ip_range_between_cname_and_asn() -> None:
    got = detect_cdn(["host.example.com"], 64500, ["192.0.2.1", "104.16.1.1"])
    assert got is not None and (got.name, got.matched_by) == ("Cloudflare", "ip:104.16.0.0/13")
    v6 = detect_cdn([], None, ["2a04:4e42::1"])
    assert v6 is not None and v6.name == "Fastly"
    cname_first = detect_cdn(["x.b-cdn.net"], None, ["104.16.1.1"])
    assert cname_first is not None and cname_first.name == "Bunny"
    assert detect_cdn([], None, ["192.0.2.1", "not an ip"]) is None
