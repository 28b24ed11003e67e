"""The typed state every handler reaches through `context`, instead of string keys."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram.ext import Application, CallbackContext, ExtBot

from bot.chats import ChatRegistry
from bot.delivery.engine import DeliveryEngine
from bot.delivery.ratelimit import SendBudget
from bot.following import FollowingService
from bot.intake.corrections import Corrections
from bot.intake.feeds import FeedPoller
from bot.intake.ingest import Ingestor
from bot.intake.release import StoryReleaser
from bot.metrics import Metrics
from bot.settings import Settings
from bot.throttle import CommandThrottle
from storage.base import Store


class InstanceControl(Protocol):
    """What serve() needs of bot/instance.py's Instance (which sits above this module)."""

    start_polling: Callable[[], Awaitable[None]] | None

    @property
    def leads(self) -> bool: ...

    async def stop(self) -> None: ...


@dataclass
class Services:
    """What post_init opens and post_shutdown closes."""

    store: Store
    chats: ChatRegistry
    following: FollowingService
    ingestor: Ingestor
    engine: DeliveryEngine
    feeds: FeedPoller | None = None
    # Releases scheduled stories at their time (the leader's).
    releaser: StoryReleaser | None = None
    # Corrections and retractions (bot/intake/corrections.py).
    corrections: Corrections | None = None


@dataclass
class BotState:
    """The Application's bot_data. python-telegram-bot creates it without arguments, so the
    settings are set by build_application and the services by post_init."""

    settings: Settings | None = None
    services: Services | None = None
    # Shared by the delivery engine and the replies, so both count against one limit.
    budget: SendBudget | None = None
    clock: Callable[[], float] = time.time
    # Counters of this Application; /metrics serves them.
    metrics: Metrics = field(default_factory=Metrics)
    # Where the HTTP server listens once it runs (e.g. http://127.0.0.1:8080).
    http_url: str | None = None
    throttle: CommandThrottle | None = None
    # This instance among the bot's instances (bot/instance.py): its name and role, for
    # /healthz, /metrics and /stats.
    instance_name: str = ""
    role: str = "leader"
    instance: InstanceControl | None = None

    def require_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("tagwire settings are used before build_application set them")
        return self.settings

    def require(self) -> Services:
        if self.services is None:
            raise RuntimeError("tagwire services are used before post_init opened them")
        return self.services


class TagwireContext(CallbackContext[ExtBot[str], dict[Any, Any], dict[Any, Any], BotState]):
    @property
    def settings(self) -> Settings:
        return self.bot_data.require_settings()

    @property
    def store(self) -> Store:
        return self.bot_data.require().store

    @property
    def chats(self) -> ChatRegistry:
        return self.bot_data.require().chats

    @property
    def following(self) -> FollowingService:
        return self.bot_data.require().following

    @property
    def ingestor(self) -> Ingestor:
        return self.bot_data.require().ingestor

    @property
    def engine(self) -> DeliveryEngine:
        return self.bot_data.require().engine

    @property
    def throttle(self) -> CommandThrottle:
        if self.bot_data.throttle is None:
            raise RuntimeError("the command throttle is used before build_application set it")
        return self.bot_data.throttle

    @property
    def metrics(self) -> Metrics:
        return self.bot_data.metrics

    @property
    def feeds(self) -> FeedPoller:
        feeds = self.bot_data.require().feeds
        if feeds is None:
            raise RuntimeError("the feed poller is used before post_init opened it")
        return feeds


TagwireApplication = Application[
    ExtBot[str], TagwireContext, dict[Any, Any], dict[Any, Any], BotState, Any
]
