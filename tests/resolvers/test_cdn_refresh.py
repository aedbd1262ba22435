"""Parsing of the providers' published range lists (recorded samples, no network)."""

from __future__ import annotations

import json

import pytest

from resolvers.cdn_refresh import parse_ranges


def test_plain_lines() -> None:
    text = "173.245.48.0/20\n103.21.244.0/22\n\n# comment\nnot-a-range\n2400:cb00::/32\n"
    assert parse_ranges(text, "lines") == ["173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32"]


def test_fastly_json() -> None:
    text = json.dumps({"addresses": ["23.235.32.0/20", "151.101.0.0/16"],
                       "ipv6_addresses": ["2a04:4e40::/32"]})
    assert parse_ranges(text, "fastly") == ["23.235.32.0/20", "151.101.0.0/16", "2a04:4e40::/32"]


def test_aws_cloudfront_only() -> None:
    text = json.dumps({
        "syncToken": "1700000000", "createDate": "2024-01-01-00-00-00",
        "prefixes": [
            {"ip_prefix": "120.52.22.96/27", "region": "GLOBAL", "service": "CLOUDFRONT",
             "network_border_group": "GLOBAL"},
            {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON",
             "network_border_group": "ap-northeast-2"},
        ],
        "ipv6_prefixes": [
            {"ipv6_prefix": "2600:9000:3000::/36", "region": "GLOBAL", "service": "CLOUDFRONT",
             "network_border_group": "GLOBAL"},
        ],
    })
    assert parse_ranges(text, "aws-cloudfront") == ["120.52.22.96/27", "2600:9000:3000::/36"]


def test_unreadable_lists_raise() -> None:
    with pytest.raises(ValueError):
        parse_ranges("<html>", "fastly")
    with pytest.raises(ValueError):
        parse_ranges("{}", "other")
