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
