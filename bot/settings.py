"""Settings from TAGWIRE_* environment variables and a `.env` file."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.url import DatabaseTarget, parse_database

# A token from @BotFather: the bot's numeric id, a colon, and a 35-character secret.
# Test servers and older tokens vary in the secret's length, so allow 30 to 50.
_TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,50}$")
# Telegram accepts 1-256 of these characters as a webhook secret token.
_WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


# A database password shorter than this is scrubbed from logs only where it stands in a URL:
# scrubbing every "pw" of every line would make the logs unreadable.
MIN_SCRUBBED_PASSWORD = 4

# Telegram's ceiling for a bot that pays for broadcasts, in messages a second.
PAID_BROADCAST_RATE = 1000.0


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TAGWIRE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    bot_token: SecretStr | None = None
    # A SQLite file (a path, or sqlite:///path) or postgresql://user:password@host:port/db;
    # any other scheme:// is refused at start-up (storage/url.py).
    # Not in repr(): a URL may hold a password.
    database: str = Field(default="tagwire.db", repr=False)
    telegram_api_url: str = "https://api.telegram.org/bot"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    rate_limit: float = Field(default=25.0, gt=0, le=PAID_BROADCAST_RATE)
    # Paid broadcasts (allow_paid_broadcast, billed in Telegram Stars from the bot's balance)
    # raise the overall cap to 1000 a second; the per-chat limits stay.
    paid_broadcast: bool = False
    # Telegram allows one message a second to a private chat and twenty a minute to a group.
    private_chat_interval: float = Field(default=1.0, ge=0)
    group_chat_interval: float = Field(default=3.0, ge=0)
    # How often the delivery engine looks for stories written by another process (`tagwire push`).
    outbox_poll_interval: float = Field(default=1.0, gt=0, le=60)
    log_level: str = "INFO"
    # Commands (and button taps) one user may send per minute before the bot stops answering.
    user_commands_per_minute: int = Field(default=30, ge=1, le=10_000)
    # The HTTP server (ingestion API, health, metrics, webhook) runs when an ingest token is
    # set or webhook mode is on.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    ingest_token: SecretStr | None = None
    # Requests to /api/* one client address, and the token, may make a minute (429 beyond).
    api_requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    # Swagger UI at /docs (with the API on); off where the API should not describe itself.
    api_docs: bool = True
    instance_name: str = Field(
        default="",
        max_length=64,
        description="This instance's name in /healthz, /metrics and `tagwire stats` "
        "(default: host name and process id)",
    )
    leader_check_interval: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Seconds between an instance's checks of the leader's lease: a follower "
        "takes over within about two of these after the leader is gone",
    )
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For "
        "names the client (for the API's per-address limit), comma-separated; "
        "empty: the header is ignored and every request counts for its connection's address",
    )
    feed_interval: float = Field(default=300.0, gt=0)
    feed_timeout: float = Field(default=20.0, gt=0, le=300)
    feed_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    feed_concurrency: int = Field(default=4, ge=1, le=64)
    # Alerts to the admins (bot/alerts): once when an incident starts, once when it is over.
    alert_feed_failures: int = Field(
        default=3,
        ge=1,
        le=100_000,
        description="Failed polls in a row after which the admins are told a feed is failing",
    )
    feed_pause_after: int = Field(
        default=288,
        ge=0,
        le=1_000_000,
        description="Failed polls in a row after which a feed is paused (not polled until "
        "`tagwire feeds resume`); 288 is a day at the default interval; 0: never paused",
    )
    alert_outbox_age: float = Field(
        default=900.0,
        gt=0,
        description="Seconds the oldest due delivery may wait before the admins are told "
        "the outbox is stuck or too slow",
    )
    alert_telegram_down: float = Field(
        default=300.0,
        gt=0,
        description="Seconds Telegram may be unreachable before the admins are told "
        "(the alert itself reaches them once Telegram answers)",
    )
    alert_check_interval: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds between two looks of the leader at the feeds, the outbox, "
        "Telegram and the database for the alerts",
    )
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            try:
                return frozenset(int(part) for part in parts if part)
            except ValueError:
                raise ValueError(
                    "must be Telegram user ids separated by commas, e.g. 12345,67890"
                ) from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_trusted_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple | set | frozenset):
            proxies = []
            for part in value:
                if not isinstance(part, str):
                    raise ValueError("must be IP addresses or networks separated by commas")
                if not part.strip():
                    continue
                try:
                    network = ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part.strip()!r} is not an IP address or network; list the proxies' "
                        "addresses separated by commas, e.g. 127.0.0.1,10.0.0.0/8"
                    ) from None
                # uvicorn reads 10.1.2.3/8 as no network at all: 10.0.0.0/8 is meant.
                proxies.append(str(network) if "/" in part else part.strip())
            return tuple(proxies)
        return value

    @field_validator("feed_pause_after")
    @classmethod
    def _check_pause_after(cls, value: int, info: ValidationInfo) -> int:
        alert_after = info.data.get("alert_feed_failures")
        if value and isinstance(alert_after, int) and value < alert_after:
            raise ValueError(
                f"must be 0 (never pause) or at least TAGWIRE_ALERT_FEED_FAILURES "
                f"({alert_after}): a feed is paused after the admins were told it fails"
            )
        return value

    @field_validator("database", mode="before")
    @classmethod
    def _check_database(cls, value: object) -> object:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, str):
            # InvalidDatabaseUrl is a ValueError whose message never shows a password.
            parse_database(value)
            return value.strip()
        return value

    @property
    def database_target(self) -> DatabaseTarget:
        """Which database TAGWIRE_DATABASE names (a SQLite file or a PostgreSQL server)."""
        return parse_database(self.database)

    @field_validator("telegram_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("ingest_token", "webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `TAGWIRE_INGEST_TOKEN=` in .env means "not set", as in .env.example.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("ingest_token")
    @classmethod
    def _check_ingest_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters; make one with `openssl rand -hex 32`")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be the bot's public URL, e.g. https://bot.example.com/telegram")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query string or fragment")
        return value.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    def require_token(self) -> str:
        """The bot token, or a SettingsError that says what is wrong with it."""
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError(
                "TAGWIRE_BOT_TOKEN is not set: get a token from @BotFather and put it in "
                "the environment or in .env"
            )
        token = self.bot_token.get_secret_value().strip()
        if not _TOKEN_PATTERN.fullmatch(token):
            raise SettingsError(
                "TAGWIRE_BOT_TOKEN is malformed: expected the form 123456789:AAE... "
                "as @BotFather gives it"
            )
        return token

    @property
    def effective_rate_limit(self) -> float:
        """Messages a second the bot sends in all: TAGWIRE_RATE_LIMIT when it is set;
        otherwise 25, or 1000 with TAGWIRE_PAID_BROADCAST."""
        if self.paid_broadcast and "rate_limit" not in self.model_fields_set:
            return PAID_BROADCAST_RATE
        return self.rate_limit

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids

    @property
    def http_enabled(self) -> bool:
        return self.ingest_token is not None or self.webhook_url is not None

    def secret_values(self) -> list[str]:
        """Every secret among the settings, for the log filter to scrub."""
        values = [self.bot_token, self.ingest_token, self.webhook_secret]
        found = [value.get_secret_value() for value in values if value is not None]
        # The database password as written in the URL (percent-encoded) and as sent. (Any
        # user:password@ in a URL is scrubbed anyway; see bot/logs.py.)
        dsn = self.database_target.dsn
        written = urlsplit(dsn).password if dsn is not None else None
        if written:
            found.extend(
                sorted(p for p in {written, unquote(written)} if len(p) >= MIN_SCRUBBED_PASSWORD)
            )
        return found


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's validation error into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"TAGWIRE_{field.upper()}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
