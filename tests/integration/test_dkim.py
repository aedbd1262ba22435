"""DKIM: with NTTD_DKIM_* set, every e-mail notice is signed as it is handed over, and
dkimpy verifies the signature against the public key the test serves as the TXT
record (no DNS). A bad key file stops nttd at start, naming the variable."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notices.verp import parse_verp
from nttd.responses import link_key
from nttd.settings import Settings, SettingsError
from tests.integration.world import SITES, running_world

SELECTOR, DOMAIN = "nttd2026", "home-hotline.example"


def write_key(path: Path) -> bytes:
    """A fresh RSA key in PKCS#1 PEM at `path`; returns the DKIM TXT record of it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


async def test_notices_are_dkim_signed_and_dkimpy_verifies_them(
    database_url: str, tmp_path: Path
) -> None:
    record = write_key(tmp_path / "dkim.pem")
    asked: list[bytes] = []

    def dns_txt(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    async with running_world(database_url, tmp_path, NTTD_RECHECK_SCHEDULE="6h",
                             NTTD_DKIM_KEY_FILE=str(tmp_path / "dkim.pem"),
                             NTTD_DKIM_SELECTOR=SELECTOR, NTTD_DKIM_DOMAIN=DOMAIN) as world:
        await world.api("POST", "/api/v1/cases", json={"urls": [world.url("us")]})
        await world.run_until_idle()
        (mail,) = world.smtp.messages
        assert mail.rcpt_tos == [SITES["us"].abuse]
        signature = mail.message["DKIM-Signature"]
        assert signature is not None and f"d={DOMAIN}" in signature
        signed = {h.strip().lower() for h in
                  signature.split("h=")[1].split(";")[0].replace("\r\n", "").split(":")}
        assert {"from", "to", "subject", "date", "message-id", "mime-version",
                "content-type"} <= signed
        assert dkim.verify(mail.raw, dnsfunc=dns_txt)
        assert asked == [f"{SELECTOR}._domainkey.{DOMAIN}.".encode()]
        # A changed body or subject no longer verifies.
        assert not dkim.verify(mail.raw.replace(b"Subject: ", b"Subject: Re: ", 1),
                               dnsfunc=dns_txt)
        # The envelope sender is the notice's VERP address, which only we can make.
        async with world.svc.sessions() as session:
            key = await link_key(session, world.settings, create=False)
        assert key is not None
        verp = parse_verp(mail.mail_from, key)
        assert verp is not None and verp.notice_id == 1
        assert verp.base == "hotline@home-hotline.example"


def test_a_bad_dkim_setting_fails_at_start_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a key\n")
    complete = {"NTTD_DKIM_SELECTOR": SELECTOR, "NTTD_DKIM_DOMAIN": DOMAIN}
    with pytest.raises(SettingsError, match=r"NTTD_DKIM_KEY_FILE.*no PEM RSA private key"):
        Settings.load({**complete, "NTTD_DKIM_KEY_FILE": str(tmp_path / "junk.pem")})
    with pytest.raises(SettingsError, match=r"NTTD_DKIM_KEY_FILE.*cannot read"):
        Settings.load({**complete, "NTTD_DKIM_KEY_FILE": str(tmp_path / "missing.pem")})
    write_key(tmp_path / "good.pem")
    with pytest.raises(SettingsError, match="NTTD_DKIM_SELECTOR not set"):
        Settings.load({"NTTD_DKIM_KEY_FILE": str(tmp_path / "good.pem"),
                       "NTTD_DKIM_DOMAIN": DOMAIN})
    with pytest.raises(SettingsError, match="NTTD_DKIM_DOMAIN"):
        Settings.load({**complete, "NTTD_DKIM_DOMAIN": "not a domain!",
                       "NTTD_DKIM_KEY_FILE": str(tmp_path / "good.pem")})
    settings = Settings.load({**complete, "NTTD_DKIM_KEY_FILE": str(tmp_path / "good.pem")})
    assert settings.dkim_selector == SELECTOR
