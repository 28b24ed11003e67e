"""The operators' settings and the webhook's small pieces."""

from __future__ import annotations

import logging

import pytest

from bot.logs import REDACTED, RedactingFilter, redact_also
from bot.settings import SettingsError, load_settings
from bot.web.webhook import DEFAULT_PATH, WebhookConfig, webhook_path


@pytest.fixture(autouse=True)
def no_tagwire_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    for name in (
        "TAGWIRE_INGEST_TOKEN",
        "TAGWIRE_WEBHOOK_URL",
        "TAGWIRE_WEBHOOK_SECRET",
        "TAGWIRE_HTTP_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_run_no_http_server() -> None:
    settings = load_settings()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.feed_interval == 300
    assert not settings.http_enabled


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAGWIRE_INGEST_TOKEN", "TAGWIRE_WEBHOOK_URL", "TAGWIRE_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.ingest_token is None
    assert settings.webhook_url is None
    assert settings.webhook_secret is None


def test_a_token_or_a_webhook_turns_the_http_server_on() -> None:
    assert load_settings(ingest_token="x" * 16).http_enabled
    assert load_settings(webhook_url="https://bot.example.com/hook").http_enabled


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"ingest_token": "short"}, "TAGWIRE_INGEST_TOKEN: Value error, must be at least 16"),
        ({"webhook_url": "bot.example.com/hook"}, "TAGWIRE_WEBHOOK_URL: Value error, must be"),
        ({"webhook_url": "https://bot.example.com/h?x=1"}, "must not have a query string"),
        ({"webhook_secret": "has spaces in it"}, "TAGWIRE_WEBHOOK_SECRET: Value error, must be"),
        ({"webhook_secret": "x" * 257}, "TAGWIRE_WEBHOOK_SECRET"),
        ({"http_port": 70000}, "TAGWIRE_HTTP_PORT"),
        ({"feed_interval": 0}, "TAGWIRE_FEED_INTERVAL"),
        ({"feed_concurrency": 0}, "TAGWIRE_FEED_CONCURRENCY"),
    ],
)
def test_bad_operator_settings_are_named(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem.replace("?", r"\?")) as raised:
        load_settings(**overrides)
    secret = overrides.get("ingest_token") or overrides.get("webhook_secret")
    if isinstance(secret, str):
        assert secret not in str(raised.value)


def test_secret_values_lists_every_secret() -> None:
    settings = load_settings(ingest_token="i" * 16, webhook_secret="w" * 20)
    assert set(settings.secret_values()) == {"i" * 16, "w" * 20}


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://bot.example.com/telegram/hook", "/telegram/hook"),
        ("https://bot.example.com/telegram/hook/", "/telegram/hook"),
        ("https://bot.example.com", DEFAULT_PATH),
        ("https://bot.example.com/", DEFAULT_PATH),
    ],
)
def test_webhook_path_is_the_urls_own_or_the_default(url: str, path: str) -> None:
    assert webhook_path(url) == path


def test_only_the_exact_secret_is_accepted() -> None:
    config = WebhookConfig(url="https://x/hook", path="/hook", secret="s3cret-value")
    assert config.accepts("s3cret-value")
    assert not config.accepts("s3cret-valu")
    assert not config.accepts("s3cret-value ")
    assert not config.accepts("")
    assert not config.accepts(None)
    assert not WebhookConfig(url="https://x/hook", path="/hook", secret="").accepts("")


def test_a_secret_learnt_later_is_redacted_too() -> None:
    handler = logging.StreamHandler()
    log_filter = RedactingFilter(["bot-token"])
    handler.addFilter(log_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_also("generated-secret")
    finally:
        root.removeHandler(handler)
    entry = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "secret_token=%s", ("generated-secret",), None
    )
    log_filter.filter(entry)
    assert entry.getMessage() == f"secret_token={REDACTED}"
