"""Every import is declared: what nttd/, resolvers/ and notices/ import comes from
pyproject's dependencies, and what tests/ and bench/ import from those plus the
`test` extra.

A library that happens to be installed (by another package, or on the machine)
is not declared: a fresh virtualenv on a user's machine would not have it. This is
the check that would have caught `cryptography`, imported by tests/checks and
missing from the `test` extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"nttd", "resolvers", "notices", "tests", "bench", "setup"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    test = {_name(r) for r in project["optional-dependencies"]["test"]}
    return runtime, runtime | test


def _imports(folders: list[str]) -> dict[str, set[str]]:
    """Top-level module -> the files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if "_templates" in path.parts:
                continue
            local = {p.stem for p in path.parent.glob("*.py")} | {
                p.name for p in path.parent.iterdir() if p.is_dir()}
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in OURS or top in local:
                        continue
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _undeclared(folders: list[str], declared: set[str]) -> dict[str, set[str]]:
    distributions = packages_distributions()
    missing = {}
    for module, files in _imports(folders).items():
        providers = {_name(d) for d in distributions.get(module, [])}
        if not providers:
            missing[f"{module} (not installed)"] = files
        elif not providers & declared:
            missing[f"{module} (from {', '.join(sorted(providers))})"] = files
    return missing


def test_the_service_imports_only_its_dependencies() -> None:
    runtime, _ = _declared()
    assert _undeclared(["nttd", "resolvers", "notices"], runtime) == {}


def test_the_tests_and_benchmarks_import_only_declared_packages() -> None:
    _, with_test = _declared()
    assert _undeclared(["tests", "bench"], with_test) == {}


def test_the_check_sees_an_undeclared_import() -> None:
    # The proof that the check can fail: `cryptography` without the test extra.
    _, with_test = _declared()
    assert "cryptography" in with_test
    missing = _undeclared(["tests"], with_test - {"cryptography"})
    assert any(key.startswith("cryptography") for key in missing), missing
