"""Counting handled updates by command for /metrics; runs after every other handler."""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatType

from bot.context import TagwireContext

# Handler group that runs after the commands (group 0) and the chat bookkeeping (group -1).
USAGE_GROUP = 100

UpdateCallback = Callable[[Update, TagwireContext], Coroutine[Any, Any, None]]


def label_of(update: Update, commands: Collection[str], admin_commands: Collection[str]) -> str:
    """The metric label: a known command's name, or a small fixed set of kinds, so that
    whatever people type cannot grow the number of time series."""
    if update.callback_query is not None:
        return "callback"
    if update.my_chat_member is not None:
        return "membership"
    message = update.message
    if message is None or message.text is None:
        return "other"
    text = message.text
    if not text.startswith("/"):
        return "text"
    words = text[1:].split(maxsplit=1)
    name = words[0].split("@", 1)[0].lower() if words else ""
    if name in commands or name in admin_commands:
        return name
    return "unknown_command"


def update_counter(commands: Collection[str], admin_commands: Collection[str]) -> UpdateCallback:
    known = frozenset(commands)
    admin_only = frozenset(admin_commands)

    async def count_update(update: Update, context: TagwireContext) -> None:
        label = label_of(update, known, admin_only)
        if label in admin_only:
            user = update.effective_user
            chat = update.effective_chat
            allowed = (
                user is not None
                and context.settings.is_admin(user.id)
                and chat is not None
                and chat.type == ChatType.PRIVATE
            )
            if not allowed:
                # Answered as an unknown command, so counted as one.
                label = "unknown_command"
        context.metrics.update_handled(label)

    return count_update
