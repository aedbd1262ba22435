"""The JSON API under /api/v1 (bearer tokens). Thin: parse, call the domain,
render. It builds no SQL of its own.
"""

from nttd.api.http import api_errors, security_headers
from nttd.api.openapi import OPENAPI
from nttd.api.routes import PRINCIPAL, SERVICES, add_routes, auth_middleware

__all__ = [
    "OPENAPI",
    "PRINCIPAL",
    "SERVICES",
    "add_routes",
    "api_errors",
    "auth_middleware",
    "security_headers",
]
