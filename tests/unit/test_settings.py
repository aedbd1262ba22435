from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from nttd.settings import SETTINGS, Settings, SettingsError, parse_duration


def test_defaults_match_the_declared_table() -> None:
    assert Settings.load({}) == Settings()


def test_every_field_is_declared_with_help() -> None:
    declared = {s.field for s in SETTINGS}
    assert {f.name for f in dataclasses.fields(Settings)} == declared
    assert all(s.help and s.env.startswith("NTTD_") for s in SETTINGS)


def test_contract_variables_are_read() -> None:
    s = Settings.load({
        "NTTD_DATABASE_URL": "postgresql://u@127.0.0.1/x",
        "NTTD_HOME_COUNTRY": "gb",
        "NTTD_DNS_SERVERS": "127.0.0.1:5353, ::1",
        "NTTD_ALLOW_PRIVATE_TARGETS": "1",
        "NTTD_RECHECK_SCHEDULE": "500ms,2s",
        "NTTD_REMOVAL_CONFIRMATIONS": "2",
        "NTTD_REMOVAL_CONFIRM_SPACING": "1s",
        "NTTD_NOTICE_BATCH_WINDOW": "0s",
        "NTTD_SMTP_URL": "smtp://127.0.0.1:2525",
        "NTTD_CHECK_TIMEOUT": "2s",
    })
    assert s.check_timeout == timedelta(seconds=2)
    assert s.database_url == "postgresql+asyncpg://u@127.0.0.1/x"
    assert s.home_country == "GB"
    assert s.dns_servers == ("127.0.0.1:5353", "::1")
    assert s.allow_private_targets is True
    assert s.recheck_schedule == (timedelta(milliseconds=500), timedelta(seconds=2))
    assert s.removal_confirmations == 2
    assert s.notice_batch_window == timedelta(0)


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("NTTD_HOME_COUNTRY", "Britain"),
        ("NTTD_DNS_SERVERS", "not-an-ip"),
        ("NTTD_RECHECK_SCHEDULE", "5 minutes"),
        ("NTTD_REMOVAL_CONFIRMATIONS", "0"),
        ("NTTD_ALLOW_PRIVATE_TARGETS", "maybe"),
        ("NTTD_SMTP_URL", "http://mail"),
        ("NTTD_DATABASE_URL", "mysql://x"),
        ("NTTD_LEASE_DURATION", "0s"),
        ("NTTD_WORKER_POLL_INTERVAL", "0ms"),
        ("NTTD_FACT_CACHE", "redis"),
        ("NTTD_WHOIS_FALLBACK", "maybe"),
        ("NTTD_WHOIS_SERVERS", "be"),
        ("NTTD_WHOIS_SERVERS", "be=http://whois.example/"),
        ("NTTD_WHOIS_SERVERS", "be=127.0.0.1:99999"),
        ("NTTD_WHOIS_TIMEOUT", "0s"),
    ],
)
def test_invalid_values_name_the_variable(env: str, value: str) -> None:
    with pytest.raises(SettingsError, match=env):
        Settings.load({env: value})


def test_fact_cache_is_shared_in_the_database_unless_kept_in_memory() -> None:
    assert Settings.load({}).fact_cache == "auto"
    assert Settings.load({"NTTD_FACT_CACHE": "database"}).fact_cache == "database"
    assert Settings.load({"NTTD_FACT_CACHE": " Memory "}).fact_cache == "memory"


def test_whois_fallback_settings_build_its_config() -> None:
    from nttd.services import whois_config

    default = whois_config(Settings.load({}))
    assert default is not None and default.enabled and dict(default.servers) == {}
    assert (default.timeout, default.allow_private) == (10.0, False)
    s = Settings.load({"NTTD_WHOIS_SERVERS": "BE=127.0.0.1:4343, whois.registrar.example=[::1]",
                       "NTTD_WHOIS_TIMEOUT": "2s", "NTTD_ALLOW_PRIVATE_TARGETS": "1"})
    config = whois_config(s)
    assert config is not None
    assert dict(config.servers) == {"be": "127.0.0.1:4343", "whois.registrar.example": "[::1]"}
    assert (config.timeout, config.allow_private) == (2.0, True)
    assert whois_config(Settings.load({"NTTD_WHOIS_FALLBACK": "0"})) is None


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    config = tmp_path / "nttd.toml"
    config.write_text('home_country = "NL"\nrecheck_schedule = ["1m", "5m"]\n'
                      'allow_private_targets = true\n')
    s = Settings.load({"NTTD_CONFIG": str(config), "NTTD_HOME_COUNTRY": "BE"})
    assert s.home_country == "BE"
    assert s.recheck_schedule == (timedelta(minutes=1), timedelta(minutes=5))
    assert s.allow_private_targets is True


def test_toml_unknown_key_fails(tmp_path: Path) -> None:
    config = tmp_path / "nttd.toml"
    config.write_text('home_contry = "NL"\n')
    with pytest.raises(SettingsError, match="unknown setting 'home_contry'"):
        Settings.load({"NTTD_CONFIG": str(config)})


def test_repr_hides_secrets() -> None:
    s = Settings.load({"NTTD_SMTP_URL": "smtp://user:hunter2pass@127.0.0.1:25",
                       "NTTD_SECRET_KEY": "topsecretvalue"})
    assert "hunter2pass" not in repr(s)
    assert "topsecretvalue" not in repr(s)


def test_parse_duration() -> None:
    assert parse_duration("1.5h") == timedelta(minutes=90)
    with pytest.raises(ValueError):
        parse_duration("1y")
