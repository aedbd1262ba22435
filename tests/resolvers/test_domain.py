from __future__ import annotations

import pytest

from resolvers.domain import registered_domain


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.example.co.uk", "example.co.uk"),
        ("a.b.example.com", "example.com"),
        ("Example.COM.", "example.com"),
        ("xn--bcher-kva.example.de", "example.de"),
        ("x.blogspot.com", "blogspot.com"),  # a private suffix is not a registry
        ("co.uk", None),
        ("com", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("[::1]", None),
        ("host.example", None),  # not a delegated TLD
        ("", None),
    ],
)
def test_registered_domain(host: str, expected: str | None) -> None:
    assert registered_domain(host) == expected
