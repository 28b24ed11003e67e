"""Keeping track of chats: every update marks its chat reachable; leaving, blocking and
group-to-supergroup migration are recorded as they happen."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import TagwireContext
from bot.texts.replies import plain, render
from handlers.common import language_of, reply
from handlers.errors import tell_storage_unavailable
from storage.base import StorageUnavailable

_GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


def counts_against_throttle(
    update: Update, bot_username: str | None, commands: Collection[str]
) -> bool:
    """Whether the bot answers this update, so that it counts among the user's commands:
    a tap, any text in a private chat, and in a group a command of this bot (one of
    `commands`, or any addressed to it by name). A group's conversation, and commands meant
    for other bots, are not the bot's business."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    # A document's caption may carry a command (/import): it counts as that command would.
    text = message.text if message.text is not None else message.caption
    if text is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    if not text.startswith("/"):
        return False
    words = text[1:].split(maxsplit=1)
    if not words or text[1].isspace():
        return False
    name, _, addressee = words[0].partition("@")
    if addressee:
        return addressee.casefold() == (bot_username or "").casefold()
    return name.lower() in commands


UpdateCallback = Callable[[Update, TagwireContext], Coroutine[Any, Any, None]]


def command_throttle(commands: Collection[str]) -> UpdateCallback:
    """The handler that stops a user who sends more than their share of commands and taps;
    `commands` are the names a bare `/name` in a group may mean."""
    known = frozenset(commands)

    async def throttle(update: Update, context: TagwireContext) -> None:
        await _throttle(update, context, known)

    return throttle


async def _throttle(update: Update, context: TagwireContext, commands: Collection[str]) -> None:
    user = update.effective_user
    if user is None or not counts_against_throttle(update, context.bot.username, commands):
        return
    verdict = context.throttle.check(user.id, time.monotonic())
    if verdict.allowed:
        return
    if verdict.tell:
        language = await language_of(update, context)
        seconds = max(1, round(verdict.retry_in))
        if update.callback_query is not None:
            await update.callback_query.answer(
                plain("too_many_commands", language, seconds=seconds), show_alert=True
            )
        else:
            await reply(update, render("too_many_commands", language, seconds=seconds))
    raise ApplicationHandlerStop


async def record_chat(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None or update.my_chat_member is not None:
        return
    if update.message is None and update.callback_query is None:
        # Edited messages, channel posts and the like do not mean the chat is back.
        return
    user = update.effective_user
    try:
        await context.chats.seen(
            chat.id, chat.type, chat.title, chat.username, user.language_code if user else None
        )
    except StorageUnavailable:
        if await context.store.get_chat(chat.id) is not None:
            # Only bookkeeping was lost: the command still runs (a read works, a write says it
            # cannot be saved) and the chat is recorded at its next update.
            return
        # A chat the database does not have cannot follow or set anything yet: say why now.
        await tell_storage_unavailable(update, context)
        raise ApplicationHandlerStop from None


async def membership_changed(update: Update, context: TagwireContext) -> None:
    """The bot was blocked, unblocked, added to or removed from a chat."""
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    status = change.new_chat_member.status
    if status in _GONE:
        await context.chats.gone(chat.id, f"bot status is now {status}")
    else:
        context.chats.forget(chat.id)
        await context.chats.seen(
            chat.id, chat.type, chat.title, chat.username, change.from_user.language_code
        )


async def chat_migrated(update: Update, context: TagwireContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        await context.chats.moved(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id is not None:
        await context.chats.moved(message.migrate_from_chat_id, message.chat.id)
