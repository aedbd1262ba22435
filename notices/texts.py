"""The paragraphs of a letter that an operator sets per language rather than per
template: the legal basis of the notice and the signature (the closing printed above
the hotline's name and address).

`LetterTexts` holds what the settings give (`NTTD_NOTICE_LEGAL_BASIS_<LANG>`,
`NTTD_NOTICE_SIGNATURE_<LANG>`); a language without its own text uses the built-in
default below. The texts are plain text and are never read as templates.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_LEGAL_BASIS: Mapping[str, str] = {
    "en": (
        "This notice gives you actual knowledge of illegal content. For providers in the "
        "European Union it is a notice under Article 16 of the Digital Services Act "
        "(Regulation (EU) 2022/2065); elsewhere it is made under the notice-and-takedown "
        "rules of your country. Child sexual abuse material is illegal to host and to "
        "distribute in almost every country."
    ),
    "de": (
        "Mit dieser Meldung erhalten Sie tatsächliche Kenntnis von rechtswidrigen Inhalten. "
        "Für Anbieter in der Europäischen Union ist sie eine Meldung nach Artikel 16 des "
        "Gesetzes über digitale Dienste (Verordnung (EU) 2022/2065); anderswo erfolgt sie "
        "nach den Melde- und Abhilfeverfahren Ihres Landes. Darstellungen sexuellen "
        "Missbrauchs von Kindern zu speichern oder zu verbreiten ist in fast allen Ländern "
        "strafbar."
    ),
    "fr": (
        "Cette notification vous donne une connaissance effective d'un contenu illicite. "
        "Pour les fournisseurs établis dans l'Union européenne, elle constitue une "
        "notification au sens de l'article 16 du règlement sur les services numériques "
        "(règlement (UE) 2022/2065) ; ailleurs, elle est faite selon les règles de "
        "notification et de retrait de votre pays. L'hébergement et la diffusion de "
        "matériel d'abus sexuel sur enfants sont interdits dans presque tous les pays."
    ),
    "nl": (
        "Met deze melding krijgt u daadwerkelijke kennis van illegale inhoud. Voor "
        "aanbieders in de Europese Unie is zij een melding in de zin van artikel 16 van de "
        "digitaledienstenverordening (Verordening (EU) 2022/2065); elders gebeurt zij "
        "volgens de regels voor melding en verwijdering van uw land. Het hosten en "
        "verspreiden van materiaal van seksueel misbruik van kinderen is in vrijwel elk "
        "land strafbaar."
    ),
    "es": (
        "Esta notificación le da conocimiento efectivo de un contenido ilícito. Para los "
        "prestadores establecidos en la Unión Europea constituye una notificación conforme "
        "al artículo 16 del Reglamento de Servicios Digitales (Reglamento (UE) 2022/2065); "
        "en otros lugares se realiza conforme a las normas de notificación y retirada de "
        "su país. Alojar y difundir material de abuso sexual infantil es delito en casi "
        "todos los países."
    ),
}

DEFAULT_SIGNATURE: Mapping[str, str] = {
    "en": "Kind regards,",
    "de": "Mit freundlichen Grüßen",
    "fr": "Veuillez agréer nos salutations distinguées,",
    "nl": "Met vriendelijke groet,",
    "es": "Atentamente,",
}

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class LetterTexts:
    """Per-language legal basis and signature; missing ones use the built-in defaults."""

    legal_basis: Mapping[str, str] = field(default_factory=dict)
    signature: Mapping[str, str] = field(default_factory=dict)

    def legal_basis_for(self, language: str) -> str:
        """The paragraph, its long lines wrapped at 78 characters like the letters."""
        text = _pick(self.legal_basis, DEFAULT_LEGAL_BASIS, language)
        return "\n".join(textwrap.fill(line, 78, break_on_hyphens=False, break_long_words=False)
                         if len(line) > 78 else line
                         for line in text.splitlines())

    def signature_for(self, language: str) -> str:
        return _pick(self.signature, DEFAULT_SIGNATURE, language)


def _pick(configured: Mapping[str, str], defaults: Mapping[str, str], language: str) -> str:
    text = configured.get(language) or defaults.get(language)
    if text is None:
        text = configured.get(FALLBACK_LANGUAGE) or defaults[FALLBACK_LANGUAGE]
    return text.strip()
