"""Where the files that ship beside the code are: notice letters, web templates, static files.

In a checkout (and an editable install) they live in ``templates/`` at the top of the
repository; a wheel carries a copy inside the package, ``nttd/_templates/`` (setup.py's
build step copies it there), so that ``pip install .``, a wheel or a container image
renders notices and pages exactly like a checkout.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["templates_dir"]

_PACKAGED = Path(__file__).resolve().parent / "_templates"
_CHECKOUT = Path(__file__).resolve().parent.parent / "templates"


def templates_dir() -> Path:
    """The folder holding ``notices/`` and ``web/``: the packaged copy, else the checkout's."""
    if (_PACKAGED / "notices").is_dir():
        return _PACKAGED
    return _CHECKOUT
