"""Where a command applies: this chat, the forum topic it was written in, or a channel the
user administers (`/follow @channel Japan`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden

from bot.context import TagwireContext
from bot.texts.replies import Html, render
from handlers.common import Target, language_of, may_change_subscriptions, reply, target_of

_CHANNEL = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})(?:\s+|$)")
_ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}


@dataclass(frozen=True, slots=True)
class Resolved:
    target: Target
    rest: str
    # "@name" when the command addresses a channel.
    channel: str | None = None


class ChannelRefused(Exception):
    """The user may not manage that channel here; `key` names the reply to give."""

    def __init__(self, key: str, channel: str) -> None:
        super().__init__(key)
        self.key = key
        self.channel = channel


async def resolve_target(
    update: Update, context: TagwireContext, argument: str, *, changing: bool
) -> Resolved | None:
    """The target of a command and the rest of its argument; answers the user and returns
    None when they may not act there."""
    language = await language_of(update, context)
    match = _CHANNEL.match(argument)
    if match:
        try:
            channel_id = await channel_for(context, f"@{match[1]}", update)
        except ChannelRefused as refused:
            await reply(update, render(refused.key, language, channel=refused.channel))
            return None
        return Resolved(Target(channel_id), argument[match.end() :].strip(), f"@{match[1]}")
    target = target_of(update)
    if target is None:
        return None
    if changing and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return None
    return Resolved(target, argument)


def chat_label(username: str | None, title: str | None, fallback: str) -> str:
    """How a channel is named to users: its @name, else its title."""
    return f"@{username}" if username else (title or fallback)


def under_channel(text: Html, channel: str | None, language: str) -> Html:
    """`text` under "Channel @name:" when it is about a channel (`channel` its label)."""
    if not channel:
        return text
    return Html(render("channel_scope", language, channel=channel) + "\n\n" + text)


@dataclass(frozen=True, slots=True)
class ChatScope:
    """The chat a per-chat command (settings, mutes) acts on: this one, or a channel the user
    administers named first in the argument; `channel` is then its label ("@name")."""

    chat_id: int
    channel: str | None = None


async def chat_scope(
    update: Update, context: TagwireContext, argument: str
) -> tuple[ChatScope, str] | None:
    """This chat, or the channel `@name` the argument starts with; and the rest of the
    argument. None when the user was told they may not act on that channel."""
    chat = update.effective_chat
    if chat is None:
        return None
    if not argument.startswith("@"):
        return ChatScope(chat.id), argument
    resolved = await resolve_target(update, context, argument, changing=True)
    if resolved is None:
        return None
    return ChatScope(resolved.target.chat_id, resolved.channel), resolved.rest


async def channel_for(context: TagwireContext, channel: str | int, update: Update) -> int:
    """The id of a channel that both the user and the bot administer, recorded as a chat."""
    user = update.effective_user
    # What the user named it by: the @name they typed, or the id a button carried.
    given = channel if isinstance(channel, str) else str(channel)
    if user is None:
        raise ChannelRefused("channel_not_admin", given)
    try:
        chat = await context.bot.get_chat(channel)
    except (BadRequest, Forbidden):
        raise ChannelRefused("channel_not_found", given) from None
    # Until the user is known to administer it, a chat is named only as publicly as it is
    # known: by its @name, never by the title of a private one (a forged button carries any
    # id it likes).
    public = f"@{chat.username}" if chat.username else given
    if chat.type != ChatType.CHANNEL:
        raise ChannelRefused("channel_not_channel", public)
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except (BadRequest, Forbidden):
        raise ChannelRefused("channel_bot_not_admin", public) from None
    if member.status not in _ADMINS:
        raise ChannelRefused("channel_not_admin", public)
    label = chat_label(chat.username, chat.title, given)
    try:
        me = await context.bot.get_chat_member(chat.id, context.bot.id)
    except (BadRequest, Forbidden):
        raise ChannelRefused("channel_bot_not_admin", label) from None
    if me.status not in _ADMINS or getattr(me, "can_post_messages", True) is False:
        raise ChannelRefused("channel_bot_not_admin", label)
    await context.chats.seen(chat.id, ChatType.CHANNEL, chat.title, chat.username)
    return chat.id
