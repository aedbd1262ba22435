"""Which language a notice is written in: a pure decision, no I/O.

    language_for(partner_language, country, table, available) -> str

1. the partner hotline's own language setting (partner notices), if a letter exists in it;
2. else the language of the recipient's country, from a country -> language table
   (`NTTD_COUNTRY_LANGUAGES`, default `DEFAULT_COUNTRY_LANGUAGES`), if a letter exists in it;
3. else English, which is also what the renderer falls back to for a missing letter.

One language per country keeps the table simple: a country with several official
languages gets the one most hosting and registrar abuse desks there read (Belgium:
Dutch, Switzerland: German, Luxembourg: French, Canada: English). Override a row with
the setting, e.g. `BE=fr`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

FALLBACK_LANGUAGE = "en"
_LANGUAGE_RE = re.compile(r"^[a-z]{2}(-[a-z]{2})?$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")

DEFAULT_COUNTRY_LANGUAGES: Mapping[str, str] = {
    # German
    "DE": "de", "AT": "de", "CH": "de", "LI": "de",
    # French
    "FR": "fr", "LU": "fr", "MC": "fr",
    # Dutch
    "NL": "nl", "BE": "nl", "SR": "nl",
    # Spanish
    "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "VE": "es",
    "EC": "es", "GT": "es", "CU": "es", "BO": "es", "DO": "es", "HN": "es", "PY": "es",
    "SV": "es", "NI": "es", "CR": "es", "PA": "es", "UY": "es",
    # English (also the fallback; listed so the table says it)
    "GB": "en", "US": "en", "IE": "en", "CA": "en", "AU": "en", "NZ": "en",
}


def format_country_languages(table: Mapping[str, str]) -> str:
    """The table as the setting writes it: `DE=de,AT=de,...`."""
    return ",".join(f"{country}={language}" for country, language in table.items())


def parse_country_languages(text: str) -> dict[str, str]:
    """`DE=de, BE=fr` -> {"DE": "de", "BE": "fr"}; ValueError naming a bad entry."""
    table: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        country, sep, language = entry.partition("=")
        country, language = country.strip().upper(), language.strip().lower()
        if not sep or not _COUNTRY_RE.match(country) or not _LANGUAGE_RE.match(language):
            raise ValueError(f"{entry!r} is not COUNTRY=language (e.g. DE=de)")
        table[country] = language
    return table


def language_for(
    partner_language: str | None,
    country: str | None,
    table: Mapping[str, str],
    available: Collection[str],
) -> str:
    """The language to write a notice in (see the module docstring)."""
    candidates = [partner_language]
    if country:
        candidates.append(table.get(country.strip().upper()))
    for candidate in candidates:
        if not candidate:
            continue
        language = candidate.strip().lower()
        # "nl-be" is read as "nl" when there is no letter for the regional variant.
        for option in (language, language.partition("-")[0]):
            if option in available:
                return option
    return FALLBACK_LANGUAGE
