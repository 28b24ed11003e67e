"""Sending one message, and what Telegram's answer means for the delivery engine."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter
from telegram.warnings import PTBDeprecationWarning


class Sender(Protocol):
    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        link_preview: bool = True,
        thread_id: int | None = None,
        picture: str | None = None,
    ) -> int | None:
        """Send HTML `text` (into forum topic `thread_id` when given), with `picture` (a URL)
        as a large link preview above it when given; return the message's id (None when
        Telegram's answer has none). Raise python-telegram-bot's errors exactly as
        Bot.send_message does."""

    async def send_photo(
        self, chat_id: int, photo: str, caption: str, *, thread_id: int | None = None
    ) -> int | None:
        """Send `photo` (a URL for Telegram to fetch, or a file_id) with the HTML `caption`;
        return the message's id. Errors as Bot.send_photo raises them."""


class PtbSender:
    """Sends through the Application's own Bot, so its request settings and base URL apply.

    The request goes straight to the Bot's BaseRequest with the parameters Bot.send_message
    would send (every one explicit: the Application's Defaults do not apply). Bot.send_message
    would also merge defaults, build TelegramObjects and parse the answer into a Message, which
    together cost more CPU than the HTTP request; the engine needs none of it. The errors are
    the same, made by BaseRequest.post from Telegram's answer. Deliveries are counted by the
    engine, so they pass by the rate limiter (ReplyAccounting counts replies only)."""

    def __init__(self, bot: ExtBot[str], *, paid_broadcast: bool = False) -> None:
        self._bot = bot
        self._paid_broadcast = paid_broadcast

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        link_preview: bool = True,
        thread_id: int | None = None,
        picture: str | None = None,
    ) -> int | None:
        values: dict[str, object] = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": ParseMode.HTML.value,
            "link_preview_options": (
                {"is_disabled": not link_preview}
                if picture is None
                else {"url": picture, "prefer_large_media": True, "show_above_text": True}
            ),
        }
        if thread_id is not None:
            values["message_thread_id"] = thread_id
        if self._paid_broadcast:
            values["allow_paid_broadcast"] = True
        return await post_message(self._bot, values)

    async def send_photo(
        self, chat_id: int, photo: str, caption: str, *, thread_id: int | None = None
    ) -> int | None:
        values: dict[str, object] = {
            "chat_id": chat_id,
            "photo": photo,
            "caption": caption,
            "parse_mode": ParseMode.HTML.value,
        }
        if thread_id is not None:
            values["message_thread_id"] = thread_id
        if self._paid_broadcast:
            values["allow_paid_broadcast"] = True
        return await post_message(self._bot, values, method="sendPhoto")


async def post_message(
    bot: Bot, values: dict[str, object], *, reply: bool = False, method: str = "sendMessage"
) -> int | None:
    """sendMessage (or another sending `method`) with exactly `values`, straight to the Bot's
    request: no defaults merged, no Message parsed from the answer (the costly part of
    Bot.send_message); returns the sent message's id. Errors are those of Bot.send_message.
    A `reply` passes through the Bot's rate limiter, which counts replies against the shared
    send budget; deliveries are counted by the engine."""
    # RequestParameter is python-telegram-bot's internal (pinned below 23); the e2e and
    # request tests catch a change in it.
    data = RequestData([RequestParameter(name, value, None) for name, value in values.items()])
    url = f"{bot.base_url}/{method}"

    async def post() -> bool | dict[str, object] | list[dict[str, object]]:
        return await bot.request.post(url, data)

    limiter = bot.rate_limiter if isinstance(bot, ExtBot) else None
    if reply and limiter is not None:
        answer = await limiter.process_request(
            callback=post,
            args=(),
            kwargs={},
            endpoint=method,
            data=values,
            rate_limit_args=None,
        )
    else:
        answer = await post()
    message_id = answer.get("message_id") if isinstance(answer, dict) else None
    return message_id if isinstance(message_id, int) else None


class FailureKind(enum.StrEnum):
    RATE_LIMITED = "429"
    CHAT_GONE = "403"
    MIGRATED = "migrated"
    REJECTED = "400"
    TRANSIENT = "network"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    description: str
    retry_after: float = 0.0
    new_chat_id: int | None = None


_GONE_MARKERS = ("chat not found", "user not found", "peer_id_invalid", "group chat was deleted")


def retry_after_seconds(error: RetryAfter) -> float:
    # Reading `retry_after` warns until PTB_TIMEDELTA is set; the value is the same either way.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def classify(error: BaseException) -> Failure:
    """What an exception from a send means: wait, give up on the chat, move it, or retry."""
    if isinstance(error, RetryAfter):
        return Failure(FailureKind.RATE_LIMITED, str(error), retry_after=retry_after_seconds(error))
    if isinstance(error, ChatMigrated):
        return Failure(FailureKind.MIGRATED, str(error), new_chat_id=error.new_chat_id)
    if isinstance(error, Forbidden):
        return Failure(FailureKind.CHAT_GONE, error.message)
    if isinstance(error, BadRequest):
        if any(marker in error.message.lower() for marker in _GONE_MARKERS):
            return Failure(FailureKind.CHAT_GONE, error.message)
        return Failure(FailureKind.REJECTED, error.message)
    if isinstance(error, InvalidToken):
        # The token was revoked while running: nothing can be sent, but nothing is lost either.
        return Failure(FailureKind.TRANSIENT, "the bot token was rejected by Telegram")
    if isinstance(error, NetworkError | TelegramError):
        return Failure(FailureKind.TRANSIENT, str(error) or type(error).__name__)
    return Failure(FailureKind.TRANSIENT, f"{type(error).__name__}: {error}")
