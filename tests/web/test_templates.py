"""The page templates themselves: no inline script, style or event handler, nothing
loaded from elsewhere, and no exact reported URL handed to any of them."""

from __future__ import annotations

import re

from nttd.resources import templates_dir

PAGES = sorted((templates_dir() / "web").glob("*.html"))


def test_there_are_pages() -> None:
    assert len(PAGES) >= 10


def test_no_inline_script_style_or_handlers() -> None:
    for path in PAGES:
        text = path.read_text()
        assert "<script" not in text.lower(), path.name
        assert "<style" not in text.lower(), path.name
        assert not re.search(r"\sstyle\s*=", text, re.I), path.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), path.name
        assert not re.search(r"(href|src|action)\s*=\s*\"(https?:)?//", text, re.I), path.name


def test_exact_urls_never_reach_a_template() -> None:
    """Views hand templates `url_defanged`; the exact `url`, `canonical_url` or a
    check's `location` is never printed, in text or attribute. (`chosen.host` is
    the list filter's own text, typed by the analyst.)"""
    for path in PAGES:
        for expression in re.findall(r"{{(.*?)}}", path.read_text()):
            if expression.strip().startswith("chosen."):
                continue
            names = re.findall(r"\.(url|canonical_url|location|host)\b", expression)
            assert names == [], (path.name, expression)
