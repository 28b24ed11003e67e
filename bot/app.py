"""Wiring: `build_application` puts every handler and resource together; `serve` runs it."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot.chats import ChatRegistry
from bot.context import BotState, Services, TagwireApplication, TagwireContext
from bot.delivery.config import DeliveryConfig
from bot.delivery.edits import EditConfig, EditWorker, PtbEditor
from bot.delivery.engine import DeliveryEngine
from bot.delivery.ratelimit import ReplyAccounting, SendBudget, SendReports
from bot.delivery.request import AiohttpRequest
from bot.delivery.retry import until_telegram_answers
from bot.delivery.sender import PtbSender
from bot.following import FollowingService
from bot.instance import AnotherInstanceRuns, Instance, default_instance_name, lease_for
from bot.intake.corrections import Corrections
from bot.intake.ingest import Ingestor
from bot.intake.release import NOTIFIED_LONGEST_SLEEP, StoryReleaser
from bot.leadership import Role
from bot.operators import (
    HttpService,
    OperatorStartError,
    close_operators,
    open_operators,
    start_http,
)
from bot.settings import Settings
from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES
from bot.throttle import CommandThrottle
from bot.updates import PerChatUpdateProcessor
from bot.web.webhook import WebhookError, register_webhook
from handlers import bot_commands, register_handlers
from storage import open_store

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator."""


def tune_garbage_collector() -> None:
    """For a long-running `tagwire run` process, once everything is built: the objects made so
    far live as long as the process, so the collector stops scanning them, and it runs after
    50 000 new objects instead of 700. Each message allocates a few hundred short-lived objects;
    with the default threshold the collector took about a fifth of the CPU of a broadcast
    (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


def delivery_config(settings: Settings) -> DeliveryConfig:
    return DeliveryConfig(
        rate_limit=settings.effective_rate_limit,
        private_interval=settings.private_chat_interval,
        group_interval=settings.group_chat_interval,
        poll_interval=settings.outbox_poll_interval,
    )


def build_application(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    request: BaseRequest | None = None,
) -> TagwireApplication:
    """The Application with every handler; nothing is opened until post_init. `clock` is
    the wall clock the schedules (digests, quiet hours) follow; tests move it. `request`
    carries deliveries and replies (default: AiohttpRequest; the benchmarks pass
    python-telegram-bot's HTTPXRequest to compare)."""
    # Without this python-telegram-bot warns on every 429 it parses; tagwire reads either form.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    in_flight = delivery_config(settings).max_in_flight
    budget = SendBudget(settings.effective_rate_limit)
    if request is None:
        # Deliveries overlap; replies to commands need connections of their own beside them.
        request = AiohttpRequest(connection_pool_size=in_flight + 64, pool_timeout=10.0)
    application: TagwireApplication = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram_api_url)
        # Files (an /import's document) come from `…/file/bot<token>/…` beside the methods.
        .base_file_url(settings.telegram_api_url.removesuffix("/bot") + "/file/bot")
        .context_types(ContextTypes(context=TagwireContext, bot_data=BotState))
        .concurrent_updates(PerChatUpdateProcessor(256))
        .request(request)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(ReplyAccounting(budget))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data.settings = settings
    application.bot_data.budget = budget
    application.bot_data.clock = clock
    application.bot_data.instance_name = settings.instance_name or default_instance_name()
    application.bot_data.throttle = CommandThrottle(settings.user_commands_per_minute)
    register_handlers(application)
    return application


async def _post_init(application: TagwireApplication) -> None:
    settings = application.bot_data.require_settings()
    store = await open_store(settings.database_target)
    chats = ChatRegistry(store)
    engine = DeliveryEngine(
        store,
        PtbSender(application.bot, paid_broadcast=settings.paid_broadcast),
        delivery_config(settings),
        on_chat_gone=chats.forget,
        on_sent=application.bot_data.metrics.delivery_sent,
        on_failure=application.bot_data.metrics.delivery_failed,
        budget=application.bot_data.budget,
        clock=application.bot_data.clock,
    )
    chats.on_settings_changed = engine.forget_chat_settings
    # Edits of delivered teasers (corrections, retractions): the leader's, beside the engine.
    edits = EditWorker(
        store,
        PtbEditor(application.bot),
        engine,
        engine.budget,
        EditConfig(poll_interval=settings.outbox_poll_interval),
        clock=application.bot_data.clock,
    )
    engine.attach(edits)

    def retracted(article_id: int) -> None:
        engine.withdraw(article_id)
        edits.wake()

    releaser = StoryReleaser(
        store,
        # PostgreSQL's NOTIFY wakes it for a story scheduled by any process; SQLite's cannot.
        longest_sleep=NOTIFIED_LONGEST_SLEEP
        if settings.database_target.is_postgres
        else settings.outbox_poll_interval,
        on_queued=engine.wake,
    )
    application.bot_data.services = Services(
        store=store,
        chats=chats,
        following=FollowingService(store),
        ingestor=Ingestor(store, on_queued=engine.wake, on_scheduled=releaser.wake),
        engine=engine,
        releaser=releaser,
        corrections=Corrections(
            store,
            on_corrected=edits.wake,
            on_retracted=retracted,
            clock=application.bot_data.clock,
        ),
    )
    application.bot_data.services.ingestor.on_corrected = edits.wake
    accounting = application.bot.rate_limiter
    if store.shared and isinstance(accounting, ReplyAccounting):
        # A follower's replies count against the leader's pace (bot/instance.py listens).
        accounting.reports = SendReports(
            application.bot_data.instance_name,
            store.report_sends,
            wanted=lambda: application.bot_data.role != Role.LEADER.value,
        )
    try:
        await application.bot.set_my_commands(bot_commands(DEFAULT_LANGUAGE))
        for language in LANGUAGES:
            if language != DEFAULT_LANGUAGE:
                await application.bot.set_my_commands(
                    bot_commands(language), language_code=language
                )
    except TelegramError as exc:
        logger.warning("could not register the command menu: %s", exc)
    await open_operators(application)
    # The leader's duties (the engine, feed polls, pruning, getUpdates) start when this
    # instance leads: at once when it is alone (always, on SQLite).
    instance = Instance(
        application,
        lease_for(settings.database_target),
        name=application.bot_data.instance_name,
        interval=settings.leader_check_interval,
        spacing=max(settings.private_chat_interval, settings.group_chat_interval),
    )
    application.bot_data.instance = instance
    try:
        await instance.start()
    except AnotherInstanceRuns as exc:
        raise StartupError(str(exc)) from None


async def _post_stop(application: TagwireApplication) -> None:
    instance = application.bot_data.instance
    if instance is not None:
        # A leader finishes its duties and hands the lease on at once.
        await instance.stop()
    services = application.bot_data.services
    if services is not None:
        await services.engine.stop()


async def _post_shutdown(application: TagwireApplication) -> None:
    services = application.bot_data.services
    if services is not None:
        # Already stopped by post_stop unless start-up failed half way.
        if application.bot_data.instance is not None:
            await application.bot_data.instance.stop()
            application.bot_data.instance = None
        await services.engine.stop()
        if services.releaser is not None:
            await services.releaser.stop()
        await close_operators(application)
        accounting = application.bot.rate_limiter
        if isinstance(accounting, ReplyAccounting) and accounting.reports is not None:
            await accounting.reports.stop()
        await services.store.close()
        application.bot_data.services = None


def _polling_failed(error: TelegramError) -> None:
    # python-telegram-bot retries with a growing pause (up to 30 s); without this callback it
    # logs a three-level traceback at each try, all through an outage.
    logger.warning("cannot fetch updates from Telegram (%s); retrying", error)


async def _initialize(application: TagwireApplication, stop: asyncio.Event) -> bool:
    """Connect to Telegram, waiting out an outage; False when asked to stop meanwhile.
    Unless it connects, it closes the HTTP sessions its attempts opened, which
    application.shutdown() would skip as never initialized."""
    started = False
    try:
        started = await until_telegram_answers(application.initialize, stop, doing="starting")
    except InvalidToken:
        raise StartupError(
            "TAGWIRE_BOT_TOKEN was rejected by Telegram: check it with @BotFather"
        ) from None
    finally:
        if not started:
            await application.bot.shutdown()
    return started


async def serve(application: TagwireApplication, stop: asyncio.Event) -> None:
    """Run the bot until `stop` is set, then shut down cleanly, calling the post_init /
    post_stop / post_shutdown hooks as run_polling would.

    Updates come by long polling, or by webhook when TAGWIRE_WEBHOOK_URL is set; the HTTP
    server (API, health, metrics, webhook) runs in this loop when configured. Shutdown order:
    HTTP server, updater, application, post_stop, shutdown, post_shutdown. A webhook stays
    registered, so Telegram keeps the updates for the next start."""
    if not await _initialize(application, stop):
        return
    http: HttpService | None = None
    try:
        if application.post_init is not None:
            await application.post_init(application)
        assert application.updater is not None
        try:
            http = await start_http(application)
            if http is not None and http.webhook is not None:
                if not await register_webhook(application.bot, http.webhook, ALLOWED_UPDATES, stop):
                    return
            else:
                updater = application.updater

                async def start_polling() -> None:
                    await updater.start_polling(
                        allowed_updates=ALLOWED_UPDATES, error_callback=_polling_failed
                    )

                # Telegram allows one poller: the leader polls, and a follower that becomes
                # the leader starts then.
                instance = application.bot_data.instance
                if instance is not None:
                    instance.start_polling = start_polling
                # Starting polling deletes any webhook first: a call that may meet an outage.
                if (instance is None or instance.leads) and not await until_telegram_answers(
                    start_polling, stop, doing="starting to poll for updates"
                ):
                    return
        except (OperatorStartError, WebhookError) as exc:
            raise StartupError(str(exc)) from None
        await application.start()
        logger.info("tagwire is running as @%s", application.bot.username)
        try:
            await stop.wait()
        finally:
            if http is not None:
                await http.stop()
                http = None
            if application.updater.running:
                await application.updater.stop()
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        if http is not None:
            await http.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
