"""Routing: resolving a case, the route decision (who must act), and routing
again after an analyst's correction or a move.

Other packages import from here only.
"""

from nttd.routing.decide import Route, decide_route
from nttd.routing.moves import keep_manual, reresolve_due_cases
from nttd.routing.overrides import OverrideError, apply_overrides, override_facts
from nttd.routing.resolve import MAX_RESOLVE_ATTEMPTS, resolve_backoff, resolve_due_cases
from nttd.routing.route import RoutingError, release_case, reroute, route_case, route_for

__all__ = [
    "MAX_RESOLVE_ATTEMPTS",
    "OverrideError",
    "Route",
    "RoutingError",
    "apply_overrides",
    "decide_route",
    "keep_manual",
    "override_facts",
    "release_case",
    "reresolve_due_cases",
    "reroute",
    "resolve_backoff",
    "resolve_due_cases",
    "route_case",
    "route_for",
]
