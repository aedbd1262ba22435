"""Build step: copy the top-level templates/ into the package (nttd/_templates/).

Everything else is declared in pyproject.toml. templates/ stays at the top of the
repository for people; the wheel must carry it for machines (nttd.resources).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "templates"
        if not source.is_dir():  # building from an sdist that already carries the copy
            return
        target = Path(self.build_lib) / "nttd" / "_templates"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithTemplates})
