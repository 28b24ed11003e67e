"""The operators' side of `tagwire run`, wired into the Application's lifecycle by bot/app.py:
the feed poller and its job, the admins' menu, and the HTTP server (API, health, metrics,
webhook)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import BotCommand

from bot.context import TagwireApplication, TagwireContext
from bot.intake.feeds import FeedPoller
from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES
from bot.web.api import OperatorApi
from bot.web.server import LocalServer
from bot.web.webhook import WebhookConfig, WebhookError, resolve_webhook
from handlers import bot_commands
from handlers.admin import register_admin_menu

logger = logging.getLogger(__name__)

# The first poll waits this long after start (or one interval, if shorter).
FIRST_FEED_POLL = 1.0


class OperatorStartError(Exception):
    """The HTTP server or webhook mode cannot start; the message is one line."""


@dataclass
class HttpService:
    server: LocalServer
    webhook: WebhookConfig | None

    async def stop(self) -> None:
        await self.server.stop()


async def open_operators(application: TagwireApplication) -> None:
    """post_init's share: open the feed poller, give the admins their menu. The leader
    schedules the polls (`schedule_feed_polls`)."""
    settings = application.bot_data.require_settings()
    services = application.bot_data.require()
    services.feeds = FeedPoller.open(
        services.store, services.ingestor, settings, application.bot_data.metrics
    )
    if settings.admin_ids:
        # Telegram prefers a chat's menu to a language's, so each language gets one here too.
        menus: dict[str | None, list[BotCommand]] = {
            None if language == DEFAULT_LANGUAGE else language: bot_commands(
                language, for_admins=True
            )
            for language in (DEFAULT_LANGUAGE, *LANGUAGES)
        }
        await register_admin_menu(application.bot, settings.admin_ids, menus)


def schedule_feed_polls(application: TagwireApplication) -> None:
    """The leader's share (bot/instance.py): poll the feeds every TAGWIRE_FEED_INTERVAL."""
    settings = application.bot_data.require_settings()
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _poll_feeds,
            interval=settings.feed_interval,
            first=min(settings.feed_interval, FIRST_FEED_POLL),
            name="poll-feeds",
        )


async def close_operators(application: TagwireApplication) -> None:
    """post_shutdown's share."""
    services = application.bot_data.services
    if services is not None and services.feeds is not None:
        await services.feeds.close()
        services.feeds = None


async def _poll_feeds(context: TagwireContext) -> None:
    if context.feeds.busy:
        logger.warning(
            "the previous round of feed polls is still running; "
            "TAGWIRE_FEED_INTERVAL may be too short for this many feeds"
        )
        return
    await context.feeds.poll_all()


async def start_http(application: TagwireApplication) -> HttpService | None:
    """Serve the API (and the webhook path in webhook mode) when either is configured."""
    settings = application.bot_data.require_settings()
    if not settings.http_enabled:
        return None
    webhook = None
    if settings.webhook_url is not None:
        try:
            webhook = await resolve_webhook(settings, application.bot_data.require().store)
        except WebhookError as exc:
            raise OperatorStartError(str(exc)) from None
    # Open requests get this many seconds to finish when the bot stops.
    server = LocalServer(
        OperatorApi(application, webhook).app,
        grace=5.0,
        trusted_proxies=settings.trusted_proxies,
    )
    try:
        await server.start(settings.http_host, settings.http_port)
    except OSError as exc:
        raise OperatorStartError(
            f"cannot listen on {settings.http_host}:{settings.http_port} "
            f"(TAGWIRE_HTTP_HOST, TAGWIRE_HTTP_PORT): {exc.strerror or exc}"
        ) from None
    application.bot_data.http_url = server.url
    serving = ["health", "metrics"]
    if settings.ingest_token is not None:
        serving.insert(0, "API")
    if webhook is not None:
        serving.append(f"Telegram updates at {webhook.path}")
    logger.info("HTTP server on %s: %s", server.url, ", ".join(serving))
    return HttpService(server, webhook)
