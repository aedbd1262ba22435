"""The wheel is complete: built from this checkout, installed into a fresh virtualenv
outside it, it migrates a database and renders every notice letter it carries.

The fresh venv gets the wheel itself with `--no-deps --no-index` (nothing is
downloaded); the libraries it needs are borrowed from the environment running the
tests by a path line in a .pth file. Such a line only appends that folder to
sys.path: the .pth files inside it (the editable install of this checkout among
them) are not run, so `nttd` can only come from the wheel, which the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run by the venv's python, with the checkout nowhere on sys.path.
RENDER_ALL = r"""
import json, sys
from datetime import UTC, datetime
from pathlib import Path

import nttd
from notices.render import NoticeItem, NoticeRenderer, Party
from nttd.resources import templates_dir

root = templates_dir()
renderer = NoticeRenderer(root)
item = NoticeItem(reference="NTTD-1", url="http://files.example.com/a.jpg",
                  host="files.example.com", ip="192.0.2.10", classification="baseline",
                  content_type="image", confirmed_at=datetime(2026, 1, 2, tzinfo=UTC))
rendered = []
for kind_dir in sorted((root / "notices").iterdir()):
    for lang_dir in sorted(kind_dir.iterdir()):
        notice = renderer.render(
            kind_dir.name, lang_dir.name, items=[item],
            sender=Party("Hotline", "hotline@example.org", "NL"),
            recipient=Party("Host", "abuse@example.net", "DE"),
            now=datetime(2026, 1, 3, tzinfo=UTC))
        assert notice.language == lang_dir.name, (kind_dir.name, lang_dir.name, notice.language)
        assert "files[.]example[.]com" in notice.body, (kind_dir.name, lang_dir.name)
        assert "http://files.example.com" not in notice.body
        rendered.append([kind_dir.name, lang_dir.name])
print(json.dumps({"nttd": nttd.__file__, "templates": str(root), "rendered": rendered,
                  "sys_path": sys.path}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv, outside the checkout, with the wheel built from it."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ into the source tree, and two test
    # processes building in one tree at once would trip over each other.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv",
        ".hypothesis", "_templates", "*.db"))
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(dist), str(source)],
        check=True, cwd=work, timeout=300,
    )
    (wheel,) = dist.glob("nttd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nttd/_templates/notices/host/en/body.txt" in names
    assert any(n.startswith("nttd/migrations/versions/0001") for n in names)
    assert "resolvers/data/cdns.json" in names

    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, cwd=work, timeout=300,
    )
    # The dependencies, borrowed without running this environment's .pth files.
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in paths))
    return env_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NTTD_", "PYTHON"))}
    return env


def test_the_wheel_renders_every_notice_letter_it_carries(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "bin" / "python"), "-c", RENDER_ALL],
                         check=True, capture_output=True, text=True, cwd=tmp_path,
                         env=_env(), timeout=120)
    result = json.loads(out.stdout)
    assert Path(result["nttd"]).is_relative_to(installed), result["nttd"]
    assert Path(result["templates"]).is_relative_to(installed), result["templates"]
    assert not any(Path(p) == ROOT for p in result["sys_path"] if p)
    shipped = sorted(
        [kind.name, lang.name]
        for kind in (ROOT / "templates" / "notices").iterdir()
        for lang in kind.iterdir()
    )
    assert result["rendered"] == shipped
    assert {kind for kind, _ in shipped} >= {"host", "registrar", "cdn", "partner"}


async def test_the_wheel_migrates_a_database(installed: Path, database_url: str,
                                             tmp_path: Path) -> None:
    env = _env() | {"NTTD_DATABASE_URL": database_url}
    nttd = installed / "bin" / "nttd"
    subprocess.run([str(nttd), "migrate"], check=True, cwd=tmp_path, env=env, timeout=120,
                   capture_output=True)
    # Migrated means the service's own commands work on it: add a user from the wheel.
    out = subprocess.run([str(nttd), "user", "add", "alice", "--role", "analyst"],
                         check=True, cwd=tmp_path, env=env, timeout=120,
                         capture_output=True, text=True)
    assert "alice" in out.stdout + out.stderr
