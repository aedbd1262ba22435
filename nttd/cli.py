"""The `nttd` command line (contract in DESIGN.md)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import json
import logging
import secrets
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from nttd import migrate
from nttd.auth import (
    AuthError,
    add_user,
    create_token,
    find_user,
    has_users,
    list_tokens,
    revoke_token,
)
from nttd.cases import (
    IntakeError,
    Submission,
    parse_instant,
    record_event,
    submit,
    verify_audit_trail,
)
from nttd.clock import utcnow
from nttd.db import make_engine, make_sessionmaker, ping
from nttd.outbox import MAX_BOUNCE, BounceRefused, handle_bounce
from nttd.partners import PartnerFileError, load_partners, read_partner_file
from nttd.services import (
    Services,
    close_resolver_context,
    load_bootstrap,
    resolver_context,
)
from nttd.settings import Settings, SettingsError, settings_help, settings_markdown
from nttd.stats import (
    FILTERS,
    GROUPS,
    ROUTES,
    StatsError,
    StatsQuery,
    parse_metrics,
    stats_csv,
    stats_for,
    stats_table,
)
from resolvers.bootstrap_update import IANA_BOOTSTRAP_URL, update_bootstrap
from resolvers.dns import make_resolver
from resolvers.errors import BootstrapError
from resolvers.resolve import resolve_url
from resolvers.urls import InvalidURL, canonicalize_url

log = logging.getLogger("nttd")
DB_CONNECT_TIMEOUT = 10.0  # seconds one attempt to reach the database may take
DB_RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # `nttd worker` at start; the last repeats


class CliError(Exception):
    """A user-facing error: printed as `nttd: error: ...`, exit status 2."""


class DatabaseUnreachable(CliError):
    """The database could not be reached at start (`serve`): one line, exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nttd", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="web UI, HTTP API and workers in one process")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("demo", help="nttd on a simulated internet on loopback: stand-ins, "
                       "users, URLs arriving over time (nothing leaves this machine)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--database", metavar="URL",
                   help="SQLAlchemy URL, e.g. a PostgreSQL database "
                   "(default: SQLite in a temporary directory)")
    p.add_argument("--urls", type=int, default=300, help="URLs to feed in (default: %(default)s)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="time compression on top of the demo's own (default: %(default)s)")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="stop after this long (default: run until Ctrl-C)")
    p.add_argument("--dir", type=Path, help="keep the demo's files (database, mails) here "
                   "(default: a temporary directory, removed at the end)")
    p.add_argument("--seed", type=int, help="random seed for the hosts' behaviour")
    sub.add_parser("worker", help="workers only (run several against one PostgreSQL)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    p = sub.add_parser("settings", help="list the settings and their environment variables")
    p.add_argument("--markdown", action="store_true",
                   help="print the settings reference as Markdown (deploy/SETTINGS.md)")

    p = sub.add_parser("resolve", help="resolve URLs without storing anything")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("bootstrap", help="the IANA RDAP bootstrap files")
    bsub = p.add_subparsers(dest="bootstrap_command", required=True)
    bu = bsub.add_parser("update", help="fetch the current IANA files (needs the network)")
    bu.add_argument("--dir", type=Path,
                    help="directory to write (default: NTTD_RDAP_BOOTSTRAP, if a directory)")
    bu.add_argument("--from", dest="source", default=IANA_BOOTSTRAP_URL,
                    help="base URL to fetch from (default: %(default)s)")

    p = sub.add_parser("partners", help="the hotline directory")
    psub = p.add_subparsers(dest="partners_command", required=True)
    pl = psub.add_parser("load", help="load a partner file (TOML)")
    pl.add_argument("file", type=Path)

    p = sub.add_parser("user", help="users")
    usub = p.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="add a user")
    ua.add_argument("name")
    ua.add_argument("--role", required=True,
                    choices=["analyst", "partner", "coordinator", "admin"])
    ua.add_argument("--hotline", metavar="CODE")
    ua.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input")

    p = sub.add_parser("token", help="API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", help="create an API token for a user (printed once)")
    tc.add_argument("name")
    tl = tsub.add_parser("list", help="a user's API tokens (prefix, created, last used, revoked)")
    tl.add_argument("name")
    tr = tsub.add_parser("revoke", help="revoke one of a user's API tokens")
    tr.add_argument("name")
    tr.add_argument("token", metavar="PREFIX_OR_ID", help="the token's prefix (see list) or id")

    p = sub.add_parser("import", help="import URLs from a CSV file or one URL per line")
    p.add_argument("file", type=Path)
    p.add_argument("--classification")
    p.add_argument("--content-type")
    p.add_argument("--reference")

    p = sub.add_parser("audit", help="the audit trail (events, sealed into a hash chain)")
    asub = p.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="check the hash chain; names the first bad event "
                    "(exit status 1)")

    sub.add_parser("bounce", help="read one delivery status notification (bounce) on "
                   "standard input, as a mail server pipes it; exit 0 handled or ignored, "
                   "67 a forged VERP address, 75 try again later (see README)")

    p = sub.add_parser("stats", help="removal-time statistics (Kaplan-Meier, 95%% intervals)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON (as the API gives)")
    fmt.add_argument("--csv", action="store_true", help="print CSV, one row per group")
    p.add_argument("--group-by", default="country", choices=GROUPS)
    p.add_argument("--since", help="cases confirmed at or after this ISO-8601 time")
    p.add_argument("--until", help="cases confirmed before this ISO-8601 time")
    p.add_argument("--country", help="only cases hosted in this country")
    p.add_argument("--partner", help="only cases routed to this partner hotline (code)")
    p.add_argument("--route", choices=ROUTES)
    p.add_argument("--classification")
    p.add_argument("--metrics", help="comma list of time_to_removal, notice_to_removal, "
                   "time_to_acknowledgement (default: all)")
    p.add_argument("--league", action="store_true",
                   help="add the slowest and fastest networks and registrars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


async def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """One command, inside a running event loop (the tests call it in-process):
    the settings from `environ` (default: the process environment)."""
    try:
        settings = Settings.load(environ)
        return await dispatch(args, settings)
    except DatabaseUnreachable as exc:
        print(f"nttd: error: {exc}", file=sys.stderr)
        return 1
    except (CliError, SettingsError) as exc:
        print(f"nttd: error: {exc}", file=sys.stderr)
        # A mail server piping a bounce retries on EX_TEMPFAIL: fix the settings, lose nothing.
        return EX_TEMPFAIL if args.command == "bounce" else 2


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "settings":
        print(settings_markdown(), end="") if args.markdown else print(settings_help())
        return 0
    if command == "resolve":
        return await cmd_resolve(args, settings)
    if command == "bootstrap":
        return await cmd_bootstrap_update(args, settings)
    if command == "serve":
        return await cmd_serve(args, settings)
    if command == "worker":
        return await cmd_worker(settings)
    if command == "demo":
        return await cmd_demo(args)
    if command == "bounce":
        return await cmd_bounce(settings)
    return await cmd_database(args, settings)


EX_NOUSER = 67    # sysexits.h: the mail server bounces the message ("no such user")
EX_TEMPFAIL = 75  # sysexits.h: the mail server keeps the message and tries again later


async def cmd_bounce(settings: Settings) -> int:
    """One bounce on standard input. Exit 0: handled, or ignored (not a DSN, names no
    notice of ours: said on stderr, nothing changed); 67: a VERP address of ours with a
    forged tag (refused); 75: could not be handled now (database down...), retry."""
    stream = getattr(sys.stdin, "buffer", None)
    raw = (stream.read(MAX_BOUNCE + 1) if stream is not None
           else sys.stdin.read(MAX_BOUNCE + 1).encode("utf-8", "surrogateescape"))
    engine = make_engine(settings.database_url)
    try:
        await ensure_schema(engine, upgrade_empty=False)
        outcome = await handle_bounce(make_sessionmaker(engine), settings, raw, now=utcnow())
    except BounceRefused as exc:
        print(f"nttd bounce: {'refused' if exc.kind == 'forged' else 'ignored'}: {exc}",
              file=sys.stderr)
        return EX_NOUSER if exc.kind == "forged" else 0
    except Exception as exc:
        log.exception("nttd bounce: could not handle the message")
        print(f"nttd bounce: try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    finally:
        await engine.dispose()
    print(f"notice {outcome.notice_id} ({outcome.address}, found by {outcome.found_by}): "
          f"{outcome.outcome}")
    return 0


async def ensure_schema(engine: Any, *, upgrade_empty: bool) -> None:
    current = await migrate.current_revision(engine)
    head = migrate.head_revision()
    if current == head:
        return
    if current is None and upgrade_empty:
        await migrate.upgrade(engine)
        log.info("created the database schema (revision %s)", head)
        return
    raise CliError(f"the database schema is at {current or 'nothing'}, not {head}: "
                   "run `nttd migrate`")


async def cmd_database(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        if args.command == "migrate":
            before, after = await migrate.upgrade(engine)
            print(f"schema: {before or '(empty)'} -> {after}")
            return 0
        await ensure_schema(engine, upgrade_empty=True)
        now = utcnow()
        async with sessions() as session, session.begin():
            if args.command == "partners":
                created, updated = await load_partners(session, read_partner_file(args.file))
                print(f"hotlines: {created} created, {updated} updated")
            elif args.command == "user":
                if args.password_stdin:
                    password = sys.stdin.readline().rstrip("\r\n")
                    generated = False
                else:
                    password, generated = secrets.token_urlsafe(18), True
                await add_user(session, args.name, args.role, password=password,
                               hotline_code=args.hotline, now=now)
                record_event(session, None, "user_added", actor="cli", now=now, user=args.name,
                             role=args.role, hotline=args.hotline)
                print(f"user {args.name} added with role {args.role}")
                if generated:
                    print(f"password (shown once): {password}")
            elif args.command == "token":
                return await cmd_token(session, args, now)
            elif args.command == "import":
                return await cmd_import(session, args, now)
            elif args.command == "audit":
                return await cmd_audit_verify(session)
            elif args.command == "stats":
                query = StatsQuery.from_params(
                    {name: getattr(args, name)
                     for name in ("group_by", "since", "until", *FILTERS)})
                result = await stats_for(session, query, now=now,
                                         min_group=settings.stats_min_group,
                                         league=args.league,
                                         metrics=parse_metrics(args.metrics))
                print_stats(result, as_json=args.json, as_csv=args.csv)
        return 0
    except (PartnerFileError, AuthError, StatsError, IntakeError) as exc:
        raise CliError(str(exc)) from None
    finally:
        await engine.dispose()


async def cmd_token(session: Any, args: argparse.Namespace, now: Any) -> int:
    action = args.token_command
    if action == "create":
        print(await create_token(session, args.name, now=now))
        record_event(session, None, "token_created", actor="cli", now=now, user=args.name)
        return 0
    user = await find_user(session, args.name)
    if user is None:
        raise CliError(f"no user named {args.name!r}")
    tokens = await list_tokens(session, user.id)
    if action == "list":
        for t in tokens:
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            print(f"{t.id:>6}  {t.prefix}  created {t.created_at:%Y-%m-%d %H:%M}  "
                  f"last used {used}  {state}")
        return 0
    wanted = [t for t in tokens if str(t.id) == args.token or t.prefix == args.token]
    if len(wanted) != 1:
        raise CliError(f"{args.name} has no token {args.token!r} (see `nttd token list "
                       f"{args.name}`)")
    if not await revoke_token(session, user.id, wanted[0].id, now=now):
        raise CliError(f"token {args.token!r} of {args.name} is already revoked")
    record_event(session, None, "token_revoked", actor="cli", now=now, user=args.name,
                 token=wanted[0].prefix)
    print(f"revoked token {wanted[0].prefix} of {args.name}")
    return 0


async def cmd_audit_verify(session: Any) -> int:
    report = await verify_audit_trail(session)
    print(f"sealed events checked: {report.sealed}, pruned by retention: {report.pruned}, "
          f"not sealed yet: {report.unsealed}")
    print(f"head: #{report.head_seq} {report.head_chain}")
    if report.ok:
        print("audit trail intact")
        return 0
    print(f"AUDIT TRAIL BROKEN: {report.problem}")
    return 1


def read_import_file(path: Path) -> list[dict[str, str]]:
    """Rows of {url, classification?, content_type?, reference?, confirmed_at?}."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise CliError(f"{path} holds no URLs")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if "url" in header:
        reader = csv.DictReader(io.StringIO("\n".join(lines)), fieldnames=header)
        next(reader)
        known = {"url", "classification", "content_type", "reference", "confirmed_at"}
        unknown = set(header) - known
        if unknown:
            raise CliError(f"{path}: unknown CSV column(s): {', '.join(sorted(unknown))}")
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    return [{"url": line.strip()} for line in lines]


async def cmd_import(session: Any, args: argparse.Namespace, now: Any) -> int:
    rows = read_import_file(args.file)
    problems = []
    submissions = []
    for number, row in enumerate(rows, 1):
        try:
            canonicalize_url(row.get("url", ""))
            confirmed = row.get("confirmed_at")
            submissions.append(Submission(
                urls=(row["url"],),
                classification=row.get("classification") or args.classification,
                content_type=row.get("content_type") or args.content_type,
                reference=row.get("reference") or args.reference,
                confirmed_at=parse_instant(confirmed, "confirmed_at") if confirmed else None,
            ))
        except (InvalidURL, IntakeError, KeyError) as exc:
            problems.append(f"row {number}: {row.get('url', '')!r}: {exc}")
    if problems:
        raise CliError(f"{len(problems)} invalid row(s); nothing was imported:\n  "
                       + "\n  ".join(problems))
    created = duplicates = 0
    for submission in submissions:
        for result in await submit(session, submission, actor="cli:import", user_id=None,
                                   now=now):
            if result.duplicate_of is None:
                created += 1
            else:
                duplicates += 1
    print(f"imported {created} case(s); {duplicates} duplicate(s) of open cases")
    return 0


def print_stats(result: dict[str, Any], *, as_json: bool, as_csv: bool = False) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    elif as_csv:
        sys.stdout.write(stats_csv(result))
    else:
        print(stats_table(result))
        for name, table in result.get("league", {}).items():
            for side in ("slowest", "fastest"):
                shown = ", ".join(f"{row['group']} ({row['cases']})" for row in table[side])
                print(f"{side} {name}: {shown or '-'}")


async def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    async with aiohttp.ClientSession(trust_env=False) as http:
        try:
            bootstrap = await load_bootstrap(settings.rdap_bootstrap, http)
        except Exception as exc:
            raise CliError(f"cannot load the RDAP bootstrap: {exc}") from None
        ctx = resolver_context(settings, resolver=make_resolver(list(settings.dns_servers) or None),
                               http=http, bootstrap=bootstrap)
        try:
            results = await asyncio.gather(*(resolve_url(url, ctx) for url in args.urls))
        finally:
            close_resolver_context(ctx)
    if args.json:
        data = [r.to_json() for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    else:
        for r in results:
            hosting = r.hosting
            print(f"{r.host}: ips={','.join(r.ips) or '-'} "
                  f"asn={hosting.asn if hosting else '-'} "
                  f"country={hosting.country if hosting else '-'} "
                  f"cdn={r.cdn.name if r.cdn else '-'} "
                  f"errors={'; '.join(r.errors) or '-'}")
    return 0 if all(not r.errors for r in results) else 1


async def cmd_bootstrap_update(args: argparse.Namespace, settings: Settings) -> int:
    directory = args.dir
    if directory is None:
        source = settings.rdap_bootstrap
        if not source or source.startswith(("http://", "https://")):
            raise CliError("give --dir, or set NTTD_RDAP_BOOTSTRAP to a directory "
                           "(the bundled snapshot is part of the installed package)")
        directory = Path(source)
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory")
    async with aiohttp.ClientSession(trust_env=False) as http:
        try:
            published = await update_bootstrap(directory, http, base_url=args.source)
        except BootstrapError as exc:
            raise CliError(f"bootstrap not updated: {exc}") from None
    for name, date in sorted(published.items()):
        print(f"{name}: published {date}")
    return 0


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_signalled() -> None:
    await _stop_on_signals().wait()


def database_address(url: str) -> str:
    """Where NTTD_DATABASE_URL points, for messages: host, port and database, never
    the user's password."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(an unparsable URL)"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 'default port'}"
    return f"{where}, database {parsed.database}" if parsed.database else where


def _reason(exc: BaseException) -> str:
    """One short line for why a connection failed."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {DB_CONNECT_TIMEOUT:.0f} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


async def database_problem(engine: Any) -> str | None:
    """None if the database answers a trivial query, else why not (one line)."""
    try:
        await asyncio.wait_for(ping(engine), timeout=DB_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        return _reason(exc)
    return None


async def wait_for_database(engine: Any, url: str, stop: asyncio.Event) -> bool:
    """Until the database answers: one log line per failed attempt, waiting longer
    each time (DB_RETRY_PAUSES, the last repeats). False if `stop` came first."""
    for attempt in itertools.count(1):
        problem = await database_problem(engine)
        if problem is None:
            if attempt > 1:
                log.info("the database at %s answers (attempt %d)", database_address(url),
                         attempt)
            return True
        pause = DB_RETRY_PAUSES[min(attempt - 1, len(DB_RETRY_PAUSES) - 1)]
        log.warning("cannot reach the database at %s (NTTD_DATABASE_URL): %s; "
                    "attempt %d, retrying in %g s", database_address(url), problem,
                    attempt, pause)
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
            return False
        except TimeoutError:
            pass
    raise AssertionError("unreachable")


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from nttd.app import make_app

    svc = await Services.start(settings)
    try:
        problem = await database_problem(svc.engine)
        if problem is not None:  # systemd's Restart= (or the operator) tries again
            raise DatabaseUnreachable(
                f"cannot reach the database at {database_address(settings.database_url)} "
                f"(NTTD_DATABASE_URL): {problem}")
        await ensure_schema(svc.engine, upgrade_empty=True)
        first_admin = await _first_admin(svc)
        runner = web.AppRunner(make_app(svc), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        print(f"nttd listening on http://{args.host}:{args.port}/", flush=True)
        if first_admin is not None:
            print("first start: created the user 'admin' (role admin) to sign in with; "
                  f"password (shown once): {first_admin}", flush=True)
        await _until_signalled()
        await runner.cleanup()
    finally:
        await svc.close()
    return 0


async def _first_admin(svc: Services) -> str | None:
    """On a database without any user, make an admin to sign in with; its password."""
    now = svc.clock()
    async with svc.sessions() as session, session.begin():
        if await has_users(session):
            return None
        password = secrets.token_urlsafe(18)
        await add_user(session, "admin", "admin", password=password, hotline_code=None,
                       now=now)
        record_event(session, None, "user_added", actor="system:first-start", now=now,
                     user="admin", role="admin", hotline=None)
    return password


async def cmd_demo(args: argparse.Namespace) -> int:
    """The demo builds its own settings: the environment's NTTD_* do not apply."""
    from nttd.demo.run import Options, run_demo

    if args.urls < 0 or args.speed <= 0:
        raise CliError("--urls must be 0 or more and --speed more than 0")
    options = Options(host=args.host, port=args.port, database=args.database, urls=args.urls,
                      speed=args.speed, duration=args.duration, directory=args.dir,
                      seed=args.seed)
    if not args.verbose:  # the banner, not the migrations and every SMTP connection
        for name in ("alembic", "mail.log"):
            logging.getLogger(name).setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run_demo(options, sys.stdout, stop)


async def cmd_worker(settings: Settings) -> int:
    from nttd.workers import run_workers

    svc = await Services.start(settings)
    try:
        stop = _stop_on_signals()
        if not await wait_for_database(svc.engine, settings.database_url, stop):
            return 0  # stopped while waiting
        await ensure_schema(svc.engine, upgrade_empty=False)
        task = asyncio.create_task(run_workers(svc, stop))
        await stop.wait()
        await task
    finally:
        await svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
