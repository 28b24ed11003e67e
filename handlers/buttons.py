"""Taps on inline buttons: follow, unfollow, latest, a follow's words; forged or stale data gets
a polite answer."""

from __future__ import annotations

from telegram import Update

from bot.context import TagwireContext
from bot.following import MAX_FOLLOW_WORDS
from bot.texts.replies import bold, plain, render
from handlers.common import (
    Target,
    admins_only,
    alert,
    edit,
    edit_markup,
    language_of,
    may_change_subscriptions,
    reply,
    target_of,
)
from handlers.follow import describe_following
from handlers.keyboards import Action, View, parse_button, toggle_keyboard, toggle_keyboard_tags
from handlers.latest import DEFAULT_COUNT, send_latest
from handlers.targets import ChannelRefused, channel_for
from storage.models import FollowOutcome
from storage.words import FollowWords


async def button(update: Update, context: TagwireContext) -> None:
    query = update.callback_query
    if query is None:
        return
    language = await language_of(update, context)
    data = parse_button(query.data if isinstance(query.data, str) else None)
    tags = await context.store.get_tags([data.tag_id]) if data else {}
    target = target_of(update)
    if data is None or target is None or data.tag_id not in tags:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    tag = tags[data.tag_id]

    if data.action is Action.LATEST:
        await query.answer()
        await send_latest(update, context, tag, DEFAULT_COUNT)
        return

    channel: str | None = None
    if data.channel_id is not None:
        try:
            target = Target(await channel_for(context, data.channel_id, update))
        except ChannelRefused as refused:
            await query.answer(
                alert(plain(refused.key, language, channel=refused.channel)), show_alert=True
            )
            return
        chat = await context.store.get_chat(target.chat_id)
        channel = f"@{chat.username}" if chat and chat.username else str(target.chat_id)
    elif not await may_change_subscriptions(update, context):
        await query.answer(plain(admins_only(update.effective_chat), language), show_alert=True)
        return

    if data.action is Action.WORDS:
        await query.answer()
        command = f"/follow {channel} {tag.name}" if channel else f"/follow {tag.name}"
        text = render(
            "words_change", language, tag=bold(tag.name), command=command, limit=MAX_FOLLOW_WORDS
        )
        await reply(update, text)
        return
    if data.action is Action.CLEAR_WORDS:
        cleared = await context.store.set_follow_words(
            target.chat_id, tag.id, FollowWords(), target.thread_id
        )
        key = "button_words_cleared" if cleared else "button_not_following"
        answer = plain(key, language, tag=tag.name)
    elif data.action is Action.FOLLOW:
        results = await context.following.follow_ids(target.chat_id, [tag.id], target.thread_id)
        outcome = results[0].outcome if results else FollowOutcome.LIMIT
        answer = {
            FollowOutcome.FOLLOWED: plain("button_followed", language, tag=tag.name),
            FollowOutcome.ALREADY: plain("button_already", language, tag=tag.name),
            FollowOutcome.LIMIT: plain("button_limit", language, limit=context.following.max_tags),
        }[outcome]
    else:
        removed = await context.store.unfollow(target.chat_id, [tag.id], target.thread_id)
        key = "button_unfollowed" if removed else "button_not_following"
        answer = plain(key, language, tag=tag.name)
    await query.answer(answer)

    follows = await context.store.follows(target.chat_id, target.thread_id)
    if data.view is View.TAGS and query.message is not None:
        shown = toggle_keyboard_tags(getattr(query.message, "reply_markup", None))
        followed = {follow.tag.id for follow in follows}
        await edit_markup(query, toggle_keyboard(shown, followed, data.channel_id))
    elif data.view is View.FOLLOWING:
        text, keyboard = describe_following(follows, language, channel, data.channel_id)
        await edit(query, text, reply_markup=keyboard)
