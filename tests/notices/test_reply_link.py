"""Every letter to a provider (host, registrar, CDN), in every language and at every
step, prints the response link it is given - and says nothing of one without it."""

from __future__ import annotations

import pytest

from notices.render import STEPS, NoticeItem, NoticeRenderer, Party

from .conftest import NOW, TEMPLATE_DIR

LINK = "https://nttd.example/respond/12.1790000000.c2lnbmF0dXJl"
KINDS = ("host", "registrar", "cdn")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", STEPS)
def test_every_provider_letter_prints_the_link(
    kind: str, step: str, items: list[NoticeItem], sender: Party, recipient: Party
) -> None:
    renderer = NoticeRenderer(TEMPLATE_DIR)
    languages = renderer.languages(kind)
    assert {"en", "de", "fr", "nl", "es"} <= set(languages)
    for language in languages:
        with_link = renderer.render(kind, language, items=items, sender=sender,
                                    recipient=recipient, now=NOW, step=step, reply_url=LINK)
        assert with_link.language == language
        assert LINK in with_link.body, (kind, language, step)
        without = renderer.render(kind, language, items=items, sender=sender,
                                  recipient=recipient, now=NOW, step=step)
        assert "/respond/" not in without.body, (kind, language, step)
