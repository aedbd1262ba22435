"""The settings reference is complete: deploy/SETTINGS.md is what the code declares,
the code names no NTTD_ variable that is not a declared setting, and neither does
any document an operator reads."""

from __future__ import annotations

import re
from pathlib import Path

from nttd.settings import SETTINGS, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\bNTTD_[A-Z0-9_]*[A-Z0-9]\b")
DECLARED = {s.env for s in SETTINGS}
# Variables of the test suite and CI, not of the service.
TEST_ONLY = {"NTTD_TEST_POSTGRES_URL", "NTTD_REQUIRE_POSTGRES", "NTTD_REQUIRE_BROWSER",
             "NTTD_SCREENSHOTS"}


def test_the_reference_is_generated_from_the_code() -> None:
    reference = (ROOT / "deploy" / "SETTINGS.md").read_text()
    assert reference == settings_markdown(), (
        "deploy/SETTINGS.md is stale: run `nttd settings --markdown > deploy/SETTINGS.md`")
    for env in DECLARED:
        assert f"| `{env}` |" in reference


def test_the_code_names_only_declared_settings() -> None:
    named: dict[str, set[str]] = {}
    for folder in ("nttd", "resolvers", "notices"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in NAME.findall(path.read_text()):
                named.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    undeclared = {name: files for name, files in named.items()
                  if name not in DECLARED | {"NTTD_CONFIG"}}
    assert undeclared == {}


def test_the_documents_name_only_declared_settings() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "deploy").iterdir())]
    named = {name: doc.name for doc in documents if doc.is_file()
             for name in NAME.findall(doc.read_text())}
    undeclared = {name: doc for name, doc in named.items()
                  if name not in DECLARED | TEST_ONLY | {"NTTD_CONFIG"}}
    assert undeclared == {}
