"""The package boundaries hold, and the check catches a forbidden import.

import-linter checks the contracts in pyproject.toml ([tool.importlinter]); it can
forbid only whole external packages, so the one rule about a part of one
(domain packages never import `aiohttp.web`: they know nothing of HTTP serving)
is checked here from the source."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("cases", "routing", "outbox", "checks", "stats", "exchange")
# Modules no domain package may import (besides what pyproject's contracts forbid).
FORBIDDEN_IN_DOMAIN = ("aiohttp.web", "nttd.web", "nttd.api")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def forbidden_domain_imports(root: Path) -> list[str]:
    problems = []
    for package in DOMAIN:
        for path in sorted((root / "nttd" / package).rglob("*.py")):
            for line, module in _imports(path):
                if any(module == f or module.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN):
                    problems.append(f"{path.relative_to(root)}:{line} imports {module}")
    return problems


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "lint-imports"
    return subprocess.run([str(script), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)


def test_domain_packages_import_no_http_serving() -> None:
    assert forbidden_domain_imports(ROOT) == []


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_check(tmp_path: Path) -> None:
    """A copy of the tree with one forbidden import of each kind added fails."""
    for name in ("nttd", "resolvers", "notices"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    additions = {
        "resolvers/domain.py": "import nttd.models\n",
        "notices/defang.py": "import resolvers.urls\n",
        "nttd/cases/hold.py": "import nttd.api\n",
        "nttd/cases/intake.py": "import nttd.routing\n",  # against the data flow
        "nttd/api/routes.py": "from sqlalchemy import select\n",
        "nttd/outbox/queue.py": "from aiohttp import web\n",
    }
    for name, line in additions.items():
        path = tmp_path / name
        path.write_text(path.read_text() + "\n" + line)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    for contract in ("they import nothing from nttd", "do not import each other",
                     "never import the API", "follow the data flow", "builds no SQL"):
        assert f"{contract}" in result.stdout.replace("\n", " "), result.stdout
    assert "BROKEN" in result.stdout
    found = forbidden_domain_imports(tmp_path)
    assert [p.split(":")[0] for p in found] == ["nttd/cases/hold.py", "nttd/outbox/queue.py"]
    assert found[1].endswith("imports aiohttp.web")
