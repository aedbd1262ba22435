"""Intake from the browser: one URL, a pasted list (one a line) or a CSV file whose
columns the analyst names. Every line gets its own result: created, a duplicate
of an open case, or invalid and why.

It goes through the same `parse_submission` and `submit` as POST /api/v1/cases.
`submit` is all or nothing and names every invalid URL; here the invalid lines are
reported and the rest submitted, so one typo does not hold back a thousand URLs.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from notices.defang import defang
from nttd.auth import Principal, Role
from nttd.cases import MAX_URLS_PER_REQUEST, IntakeError, parse_submission, submit
from nttd.services import Services
from nttd.web.base import context, require, services
from nttd.web.render import page

FIELDS = ("classification", "content_type", "reference")
MAX_CSV_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Line:
    number: int   # 1-based, in what the analyst gave
    url: str
    fields: tuple[str | None, str | None, str | None]  # classification, content type, reference


@dataclass(frozen=True)
class LineResult:
    number: int
    url_defanged: str
    outcome: str          # created | duplicate | invalid
    case_id: int | None
    reason: str | None


async def submit_lines(svc: Services, principal: Principal, lines: list[Line]) -> list[LineResult]:
    """Submit the lines (grouped by their metadata, one submission a group)."""
    groups: dict[tuple[str | None, ...], list[Line]] = {}
    for line in lines:
        groups.setdefault(line.fields, []).append(line)
    results: dict[int, LineResult] = {}
    for fields, group in groups.items():
        body: dict[str, Any] = {"urls": [line.url for line in group]}
        body.update({k: v for k, v in zip(FIELDS, fields, strict=True) if v})
        try:
            submission = parse_submission(body)
        except IntakeError as exc:
            for line in group:
                results[line.number] = _invalid(line, str(exc))
            continue
        pending = group
        for _ in range(2):  # the second round has no invalid URL left
            try:
                async with svc.sessions() as session, session.begin():
                    stored = await submit(session, submission, actor=principal.actor,
                                          user_id=principal.user_id, now=svc.clock())
            except IntakeError as exc:
                if not exc.problems:
                    for line in pending:
                        results[line.number] = _invalid(line, str(exc))
                    break
                bad = {p["index"]: p["reason"] for p in exc.problems}
                for index, line in enumerate(pending):
                    if index in bad:
                        results[line.number] = _invalid(line, bad[index])
                pending = [line for i, line in enumerate(pending) if i not in bad]
                if not pending:
                    break
                submission = parse_submission({**body, "urls": [line.url for line in pending]})
                continue
            for line, result in zip(pending, stored, strict=True):
                duplicate = result.duplicate_of is not None
                results[line.number] = LineResult(
                    line.number, defang(line.url.strip()),
                    "duplicate" if duplicate else "created", result.id,
                    f"already open as case #{result.id}" if duplicate else None)
            break
    return [results[n] for n in sorted(results)]


def _invalid(line: Line, reason: str) -> LineResult:
    return LineResult(line.number, defang(line.url.strip()[:300]), "invalid", None, reason)


def _form_fields(form: Any) -> tuple[str | None, str | None, str | None]:
    values = tuple((str(form.get(name, "")).strip() or None) for name in FIELDS)
    return values  # type: ignore[return-value]


def _results_page(request: web.Request, results: list[LineResult], *, status: int = 200,
                  error: str | None = None) -> web.Response:
    counts = {k: sum(1 for r in results if r.outcome == k)
              for k in ("created", "duplicate", "invalid")}
    return page("intake.html", status=status,
                **context(request, results=results, counts=counts, error=error,
                          max_urls=MAX_URLS_PER_REQUEST))


async def intake_page(request: web.Request) -> web.Response:
    require(request, Role.ANALYST)
    return _results_page(request, [])


async def intake_text(request: web.Request) -> web.Response:
    """One URL (field `url`) or a pasted list (field `urls`, one a line)."""
    principal = require(request, Role.ANALYST)
    form = await request.post()
    text = str(form.get("urls", "") or form.get("url", ""))
    fields = _form_fields(form)
    lines = [Line(n, raw.strip(), fields)
             for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    return await _submit_or_refuse(request, principal, lines)


async def _submit_or_refuse(request: web.Request, principal: Principal,
                            lines: list[Line]) -> web.Response:
    if not lines:
        return _results_page(request, [], status=400, error="Give at least one URL.")
    if len(lines) > MAX_URLS_PER_REQUEST:
        return _results_page(request, [], status=400,
                             error=f"At most {MAX_URLS_PER_REQUEST} URLs at a time.")
    results = await submit_lines(services(request), principal, lines)
    return _results_page(request, results)


def _column(choice: str, header: list[str], what: str, *, required: bool,
            default: str | None = None) -> int | None:
    """The index of the column `choice` names (by header or 1-based number). An
    optional field whose default name the file lacks is simply not read."""
    choice = choice.strip()
    if not choice:
        if required:
            raise ValueError(f"name the column that holds the {what}")
        return None
    lowered = [h.strip().lower() for h in header]
    if choice.lower() in lowered:
        return lowered.index(choice.lower())
    if choice.isdigit() and 1 <= int(choice) <= len(header):
        return int(choice) - 1
    if not required and choice == default:
        return None
    shown = ", ".join(h.strip()[:40] for h in header[:30]) or "(none)"
    raise ValueError(f"the file has no column {choice[:40]!r} for the {what}; "
                     f"its columns are: {shown} (or give a column number)")


def csv_lines(data: bytes, columns: dict[str, str]) -> list[Line]:
    """The lines of a CSV file (first row: the header). ValueError says what is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise ValueError("the file is empty")
    header = rows[0]
    url_at = _column(columns.get("url", ""), header, "URL", required=True)
    others = [_column(columns.get(name, ""), header, name.replace("_", " "), required=False,
                      default=name) for name in FIELDS]
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if url_at is None or url_at >= len(row) or not row[url_at].strip():
            continue

        def cell(at: int | None, row: list[str] = row) -> str | None:
            return (row[at].strip() or None) if at is not None and at < len(row) else None

        lines.append(Line(number, row[url_at].strip(),
                          (cell(others[0]), cell(others[1]), cell(others[2]))))
    return lines


async def intake_csv(request: web.Request) -> web.Response:
    principal = require(request, Role.ANALYST)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return _results_page(request, [], status=400, error="Choose a CSV file to upload.")
    data = upload.file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        return _results_page(request, [], status=400, error="The file is larger than 5 MiB.")
    columns = {"url": str(form.get("url_column", "url"))}
    columns.update({name: str(form.get(f"{name}_column", "")) for name in FIELDS})
    try:
        lines = csv_lines(data, columns)
    except ValueError as exc:
        return _results_page(request, [], status=400, error=f"The CSV file: {exc}.")
    return await _submit_or_refuse(request, principal, lines)
