"""/channels: the channels a user and the bot both administer, to manage from a private chat."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.context import TagwireContext
from bot.texts.replies import plain, render
from handlers.common import alert, edit, language_of, reply
from handlers.follow import PICKER_SIZE, POPULAR_WINDOW
from handlers.keyboards import toggle_keyboard
from handlers.targets import ChannelRefused, channel_for, chat_label, under_channel
from storage.models import Chat

# Channels checked with Telegram at the same time for one /channels.
CHECKS_AT_ONCE = 4
# Buttons in the answer at most (Telegram allows 100 in a keyboard).
MAX_SHOWN = 50
_PICK = re.compile(r"^ch:(-[1-9][0-9]{0,17})$")
_ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}


async def channels(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    user = update.effective_user
    known = await context.store.channels()
    mine = await _administered(context, update, known) if user is not None else []
    if not mine:
        await reply(update, render("channels_none", language))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    chat_label(channel.username, channel.title, str(channel.id)),
                    callback_data=f"ch:{channel.id}",
                )
            ]
            for channel in mine[:MAX_SHOWN]
        ]
    )
    await reply(update, render("channels_pick", language), reply_markup=keyboard)


async def _administered(context: TagwireContext, update: Update, known: list[Chat]) -> list[Chat]:
    """The channels of `known` the user and the bot both administer, in `known`'s order.

    Every channel is looked at, CHECKS_AT_ONCE at a time: first one call to see whether the
    user administers it, and the full check (the bot's own rights too) only where they do."""
    user = update.effective_user
    assert user is not None
    found: dict[int, Chat] = {}
    pending: Iterator[Chat] = iter(known)

    async def worker() -> None:
        for channel in pending:
            if len(found) >= MAX_SHOWN:
                return
            if not await _user_administers(context, channel.id, user.id):
                continue
            try:
                await channel_for(context, channel.id, update)
            except ChannelRefused:
                continue
            found[channel.id] = channel

    await asyncio.gather(*(worker() for _ in range(min(CHECKS_AT_ONCE, len(known)))))
    return [channel for channel in known if channel.id in found]


async def _user_administers(context: TagwireContext, channel_id: int, user_id: int) -> bool:
    try:
        member = await context.bot.get_chat_member(channel_id, user_id)
    except TelegramError:
        # The bot was removed, the channel deleted, or Telegram refused: not one to offer.
        return False
    return member.status in _ADMINS


async def channel_picked(update: Update, context: TagwireContext) -> None:
    """The channel's tags as toggles: popular tags and those it follows, ✓ on the followed."""
    query = update.callback_query
    if query is None:
        return
    language = await language_of(update, context)
    match = _PICK.match(query.data if isinstance(query.data, str) else "")
    if match is None:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    try:
        channel_id = await channel_for(context, int(match[1]), update)
    except ChannelRefused as refused:
        await query.answer(
            alert(plain(refused.key, language, channel=refused.channel)), show_alert=True
        )
        return
    await query.answer()
    chat = await context.store.get_chat(channel_id)
    label = f"@{chat.username}" if chat and chat.username else str(channel_id)
    followed = await context.store.followed_tags(channel_id)
    popular = await context.store.popular_tags(PICKER_SIZE, time.time() - POPULAR_WINDOW)
    shown = [(tag.id, tag.name) for tag in followed]
    shown += [
        (item.tag.id, item.tag.name)
        for item in popular
        if item.tag.id not in {t.id for t in followed}
    ]
    text = under_channel(render("channel_manage", language, channel=label), label, language)
    keyboard = toggle_keyboard(shown, {tag.id for tag in followed}, channel_id=channel_id)
    await edit(query, text, reply_markup=keyboard)
