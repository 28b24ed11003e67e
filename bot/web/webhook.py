"""Webhook mode: where Telegram posts updates, the secret it must send, registering the URL."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from telegram.error import BadRequest, Forbidden, InvalidToken
from telegram.ext import ExtBot

from bot.delivery.retry import until_telegram_answers
from bot.logs import redact_also
from bot.settings import Settings
from storage.base import Store

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# The `meta` key a generated secret is kept under.
META_SECRET_KEY = "webhook_secret"  # noqa: S105 - a key name


class WebhookError(Exception):
    """Webhook mode cannot start; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    path: str
    secret: str

    def accepts(self, header: str | None) -> bool:
        """Whether a request carries the secret; compared in constant time."""
        if header is None or not self.secret:
            return False
        return hmac.compare_digest(header.encode(), self.secret.encode())


def webhook_path(url: str) -> str:
    """The path the HTTP server takes updates at: the public URL's own, or a default one (a
    reverse proxy may map the public path elsewhere, but then it keeps the path as it is)."""
    path = urlsplit(url).path.rstrip("/")
    return path or DEFAULT_PATH


async def resolve_webhook(settings: Settings, store: Store) -> WebhookConfig:
    """The webhook settings, with TAGWIRE_WEBHOOK_SECRET or a generated secret kept in the
    database, so that it survives restarts and is the same for every start."""
    if settings.webhook_url is None:
        raise WebhookError("TAGWIRE_WEBHOOK_URL is not set")
    token = settings.require_token()
    if token in settings.webhook_url or token.split(":", 1)[1] in settings.webhook_url:
        raise WebhookError(
            "TAGWIRE_WEBHOOK_URL must not contain the bot token: anyone who sees the URL "
            "(proxies, logs) would own the bot; use a path such as /telegram/webhook"
        )
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
    else:
        candidate = secrets.token_urlsafe(32)
        # Before it reaches the database layer, whose DEBUG log shows query parameters.
        redact_also(candidate)
        secret = await store.put_meta_if_absent(META_SECRET_KEY, candidate, time.time())
    redact_also(secret)
    return WebhookConfig(
        url=settings.webhook_url, path=webhook_path(settings.webhook_url), secret=secret
    )


async def register_webhook(
    bot: ExtBot[str],
    config: WebhookConfig,
    allowed_updates: Sequence[str],
    stop: asyncio.Event,
) -> bool:
    """setWebhook, waiting out a network outage; False when asked to stop meanwhile."""

    async def set_webhook() -> None:
        try:
            await bot.set_webhook(
                url=config.url,
                allowed_updates=list(allowed_updates),
                secret_token=config.secret,
            )
        except (BadRequest, Forbidden, InvalidToken) as exc:
            raise WebhookError(f"Telegram refused the webhook {config.url}: {exc}") from None

    if not await until_telegram_answers(set_webhook, stop, doing="setting the webhook"):
        return False
    logger.info("webhook set: Telegram posts updates to %s", config.url)
    return True
