"""Keeping track of chats: every update marks its chat reachable; leaving, blocking and
group-to-supergroup migration are recorded as they happen."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus

from bot.context import TagwireContext

_GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


async def record_chat(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None or update.my_chat_member is not None:
        return
    if update.message is None and update.callback_query is None:
        # Edited messages, channel posts and the like do not mean the chat is back.
        return
    await context.chats.seen(chat.id, chat.type, chat.title or chat.username)


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
        await context.chats.seen(chat.id, chat.type, chat.title or chat.username)


async def chat_migrated(update: Update, context: TagwireContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        await context.chats.moved(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id is not None:
        await context.chats.moved(message.migrate_from_chat_id, message.chat.id)
