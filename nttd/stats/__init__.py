"""Removal-time statistics: censoring-aware estimates per group.

Other packages import from here only.
"""

from nttd.stats.export import stats_csv, stats_table
from nttd.stats.fresh import REFRESH_EVERY, refresh_stats
from nttd.stats.groups import GROUPS, NO_STEP
from nttd.stats.query import FILTERS, ROUTES, StatsError, StatsQuery
from nttd.stats.removal import (
    DEFINITIONS,
    LEAGUE_GROUPS,
    METRICS,
    forget_estimates,
    kaplan_meier,
    km_quantile,
    league_of,
    parse_metrics,
    removal_stats,
    stats_for,
    step_order,
    wilson,
)

__all__ = [
    "DEFINITIONS",
    "FILTERS",
    "GROUPS",
    "LEAGUE_GROUPS",
    "METRICS",
    "NO_STEP",
    "REFRESH_EVERY",
    "ROUTES",
    "StatsError",
    "StatsQuery",
    "forget_estimates",
    "kaplan_meier",
    "km_quantile",
    "league_of",
    "parse_metrics",
    "refresh_stats",
    "removal_stats",
    "stats_csv",
    "stats_for",
    "stats_table",
    "step_order",
    "wilson",
]
