"""The breakdowns' names and their group keys over the narrow copy (nttd.stats.fresh).

Shared by the queries (nttd.stats.query) and the rollup (nttd.stats.rollup), which
must group a copy exactly as the queries group the case it stands for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import SQLColumnExpression, func

GROUPS = ("country", "asn", "partner", "registrar", "cdn", "tld", "content_type",
          "classification", "route", "week", "month", "step")
DIRECT = "(direct)"  # the partner group of cases not routed to a partner
NO_CDN = "(none)"    # the cdn group of cases not behind a CDN
NO_STEP = "(none)"   # the step group of cases that had no letter of the chase (yet)
# The breakdowns keyed by one text column of the narrow copy (the others: by network,
# a number and its name; by partner, the hotline it was routed to).
TEXT_KEYED = tuple(g for g in GROUPS if g not in ("asn", "partner"))


def text_key(group_by: str, t: Any) -> SQLColumnExpression[Any]:
    """The text key of a breakdown in TEXT_KEYED over the narrow copy's columns `t`
    (the CaseStats model, or the columns of a subquery of it)."""
    keys: dict[str, Any] = {
        "country": lambda: t.country,
        "registrar": lambda: t.registrar,
        "cdn": lambda: func.coalesce(t.cdn, NO_CDN),
        "tld": lambda: t.tld,
        "content_type": lambda: t.content_type,
        "classification": lambda: t.classification,
        "route": lambda: t.route_kind,
        "week": lambda: t.week,
        "month": lambda: t.month,
        # The last letter of the chase sent while the case was online (Case.chase_step):
        # for a removed case, the step after which the content came down.
        "step": lambda: func.coalesce(t.chase_step, NO_STEP),
    }
    return keys[group_by]()  # type: ignore[no-any-return]
