"""/channels: the channels a user and the bot both administer, to manage from a private chat."""

from __future__ import annotations

import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.texts.replies import plain, render
from handlers.common import edit, language_of, reply
from handlers.follow import PICKER_SIZE, POPULAR_WINDOW
from handlers.keyboards import toggle_keyboard
from handlers.targets import ChannelRefused, channel_for, chat_label, under_channel

MAX_CHANNELS = 20
_PICK = re.compile(r"^ch:(-[1-9][0-9]{0,17})$")


async def channels(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    mine = []
    for channel in (await context.store.channels())[:MAX_CHANNELS]:
        try:
            await channel_for(context, channel.id, update)
        except ChannelRefused:
            continue
        mine.append(channel)
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
            for channel in mine
        ]
    )
    await reply(update, render("channels_pick", language), reply_markup=keyboard)


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
        await query.answer(plain(refused.key, language, channel=refused.channel), show_alert=True)
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
