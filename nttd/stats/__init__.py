"""Removal-time statistics: censoring-aware estimates per group.

Other packages import from here only.
"""

from nttd.stats.export import stats_csv, stats_table
from nttd.stats.query import FILTERS, GROUPS, ROUTES, StatsError, StatsQuery
from nttd.stats.removal import (
    DEFINITIONS,
    METRICS,
    kaplan_meier,
    km_quantile,
    parse_metrics,
    removal_stats,
    stats_for,
)

__all__ = [
    "DEFINITIONS",
    "FILTERS",
    "GROUPS",
    "METRICS",
    "ROUTES",
    "StatsError",
    "StatsQuery",
    "kaplan_meier",
    "km_quantile",
    "parse_metrics",
    "removal_stats",
    "stats_csv",
    "stats_for",
    "stats_table",
]
