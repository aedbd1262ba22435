"""Refresh the IANA RDAP bootstrap files in a directory (``nttd bootstrap update``).

``update_bootstrap(directory, session)`` fetches ``dns.json``, ``ipv4.json``,
``ipv6.json`` and ``asn.json`` from ``https://data.iana.org/rdap/`` (or
``base_url``), checks that all four parse as a bootstrap together, and only
then replaces the files, each atomically (written beside, fsynced, renamed):
a failed or partial download leaves the old snapshot as it was.

Failures raise ``BootstrapError`` with the reason (network trouble, a file that
is not a bootstrap registry); nothing is written then.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from resolvers.bootstrap import BOOTSTRAP_FILES, Bootstrap
from resolvers.errors import BootstrapError, LookupFailed
from resolvers.rdap_client import MAX_BODY, RdapClient, RdapLimits

__all__ = ["IANA_BOOTSTRAP_URL", "update_bootstrap"]

IANA_BOOTSTRAP_URL = "https://data.iana.org/rdap/"


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_all(target: Path, documents: dict[str, Any]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in BOOTSTRAP_FILES:
        _write_atomically(target / name, json.dumps(documents[name], indent=1) + "\n")


async def update_bootstrap(directory: str | os.PathLike[str], session: aiohttp.ClientSession,
                           *, base_url: str = IANA_BOOTSTRAP_URL) -> dict[str, str]:
    """Fetch, validate and write the four files; returns {file: publication date}."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    client = RdapClient(session, RdapLimits(timeout=60.0, retries=2))
    documents: dict[str, Any] = {}
    for name in BOOTSTRAP_FILES:
        try:
            documents[name] = await client.fetch_json(base + name, cap=16 * MAX_BODY)
        except LookupFailed as exc:
            raise BootstrapError(f"cannot fetch {name}: {exc}") from None
        if not isinstance(documents[name], dict):
            raise BootstrapError(f"{name} is not a bootstrap registry (not a JSON object)")
    checked = Bootstrap(documents)  # raises BootstrapError when any file is malformed
    await asyncio.to_thread(_write_all, Path(directory), documents)
    return dict(checked.publication)
