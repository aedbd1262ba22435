"""Text that people send: what the storage can hold, on every backend.

PostgreSQL refuses NUL in text and both backends refuse strings that are not
valid Unicode (a lone surrogate from JSON's "\\ud800"); columns have lengths.
Checking here turns what would be a database error into a clear refusal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String

from nttd.models import Case

MAX_NOTE = 4000


def column_length(column: Any) -> int:
    """The length of a String column of Case (its `type.length`)."""
    kind = column.type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"{column} has no length")
    return int(kind.length)


LIMITS = {
    "classification": column_length(Case.__table__.c.classification),
    "content_type": column_length(Case.__table__.c.content_type),
    "reference": column_length(Case.__table__.c.reference),
}


def text_problem(value: str, max_length: int) -> str | None:
    """Why `value` cannot be stored, or None."""
    if len(value) > max_length:
        return f"at most {max_length} characters"
    if "\x00" in value:
        return "no NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "valid Unicode text (it has a lone surrogate)"
    return None


def clean_text(value: Any, name: str, max_length: int) -> str | None:
    """`value` stripped (None if empty); ValueError saying why it is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    problem = text_problem(value, max_length)
    if problem is not None:
        raise ValueError(f"'{name}' must be {problem}")
    return value.strip() or None
