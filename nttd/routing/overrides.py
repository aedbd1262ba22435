"""Analyst overrides of hosting facts.

An analyst who knows better (a provider's own abuse desk, the real hosting
country behind a reseller) corrects a fact; the case is routed again from the
corrected facts. Every override is recorded in the facts' provenance with
source `manual`, and as an audit event with the old and new values.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import (
    MAX_NOTE,
    REROUTABLE,
    CaseFacts,
    CaseStatus,
    clean_text,
    record_event,
    store_facts,
    text_problem,
)
from nttd.models import Case
from nttd.routing.route import RoutingError, reroute
from nttd.services import Services

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# What may be overridden, and how each value is checked.
_FIELDS: dict[str, dict[str, str]] = {
    "hosting": {"country": "country", "asn": "asn", "as_name": "text",
                "abuse_emails": "emails"},
    "registrar": {"name": "text", "abuse_emails": "emails"},
    "cdn": {"name": "text", "abuse_emails": "emails"},
}


class OverrideError(ValueError):
    """The override is refused; nothing was changed."""


def _check(kind: str, path: str, value: Any) -> Any:
    if kind == "country":
        if not isinstance(value, str) or not _COUNTRY.match(value.upper()):
            raise OverrideError(f"{path}: must be an ISO 3166 alpha-2 country code")
        return value.upper()
    if kind == "asn":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**32:
            raise OverrideError(f"{path}: must be an AS number")
        return value
    if kind == "emails":
        if not isinstance(value, list) or len(value) > 20 or not all(
            isinstance(v, str) and text_problem(v, 320) is None and _EMAIL.match(v)
            for v in value
        ):
            raise OverrideError(f"{path}: must be a list of at most 20 e-mail addresses")
        return [v.strip() for v in value]
    if (not isinstance(value, str) or not value.strip()
            or text_problem(value, 200) is not None):
        raise OverrideError(f"{path}: must be a non-empty text of at most 200 characters")
    return value.strip()


def apply_overrides(
    facts: dict[str, Any], body: Any, *, actor: str, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return corrected facts and the list of changes; raise OverrideError if invalid."""
    if not isinstance(body, dict):
        raise OverrideError("the body must be a JSON object")
    unknown = set(body) - set(_FIELDS) - {"note"}
    if unknown:
        raise OverrideError(f"unknown field(s): {', '.join(sorted(unknown))}")
    result = copy.deepcopy(facts)
    provenance = result.setdefault("provenance", {})
    changes = []
    for section, fields in _FIELDS.items():
        if section not in body:
            continue
        given = body[section]
        if given is None and section == "cdn":
            if result.get("cdn") is not None:
                changes.append({"field": "cdn", "old": result["cdn"], "new": None})
                result["cdn"] = None
                provenance["cdn"] = {"source": "manual", "at": now.isoformat(), "detail": actor}
            continue
        if not isinstance(given, dict) or not given:
            raise OverrideError(f"{section}: must be an object with some of "
                                f"{', '.join(fields)}" + (" (or null)" if section == "cdn" else ""))
        bad = set(given) - set(fields)
        if bad:
            raise OverrideError(f"{section}: cannot override {', '.join(sorted(bad))}")
        target = result.get(section) or {}
        for name, value in given.items():
            path = f"{section}.{name}"
            checked = _check(fields[name], path, value)
            if target.get(name) != checked:
                changes.append({"field": path, "old": target.get(name), "new": checked})
                target[name] = checked
                provenance[path] = {"source": "manual", "at": now.isoformat(), "detail": actor}
        result[section] = target
    if not changes:
        raise OverrideError("nothing to change: every value given is already the current one")
    return result, changes


async def override_facts(
    session: AsyncSession, svc: Services, case: Case, body: Any, *, actor: str, now: datetime
) -> list[dict[str, Any]]:
    if case.facts is None:
        raise OverrideError("the case has no facts yet; wait until it is resolved")
    if case.status not in REROUTABLE and case.status != CaseStatus.UNRESOLVABLE:
        raise OverrideError(f"a case that is {case.status} cannot be re-routed")
    facts, changes = apply_overrides(case.facts, body, actor=actor, now=now)
    try:
        note = clean_text(body.get("note"), "note", MAX_NOTE)
    except ValueError as exc:
        raise OverrideError(str(exc)) from None
    previous = CaseFacts.from_json(case.facts)
    store_facts(case, facts)
    record_event(session, case.id, "facts_overridden", actor=actor, now=now, changes=changes,
                 note=note)
    try:
        await reroute(session, svc, case, actor=actor, now=now, previous=previous)
    except RoutingError as exc:
        raise OverrideError(str(exc)) from None
    return changes
