"""The typed state every handler reaches through `context`, instead of string keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.chats import ChatRegistry
from bot.delivery import DeliveryEngine
from bot.following import FollowingService
from bot.ingest import Ingestor
from bot.ratelimit import SendBudget
from bot.settings import Settings
from storage.base import Store


@dataclass
class Services:
    """What post_init opens and post_shutdown closes."""

    store: Store
    chats: ChatRegistry
    following: FollowingService
    ingestor: Ingestor
    engine: DeliveryEngine


@dataclass
class BotState:
    """The Application's bot_data. python-telegram-bot creates it without arguments, so the
    settings are set by build_application and the services by post_init."""

    settings: Settings | None = None
    services: Services | None = None
    # Shared by the delivery engine and the replies, so both count against one limit.
    budget: SendBudget | None = None

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


TagwireApplication = Application[
    ExtBot[str], TagwireContext, dict[Any, Any], dict[Any, Any], BotState, Any
]
