"""Removal-time statistics: censoring-aware estimates per group.

Other packages import from here only.
"""

from nttd.stats.removal import GROUPS, StatsError, kaplan_meier, km_quantile, removal_stats

__all__ = ["GROUPS", "StatsError", "kaplan_meier", "km_quantile", "removal_stats"]
