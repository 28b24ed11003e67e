"""Taps on inline buttons: follow, unfollow, latest; forged or stale data gets a polite answer."""

from __future__ import annotations

from telegram import Update

from bot.context import TagwireContext
from bot.texts import plain
from handlers.common import edit, edit_markup, language_of, may_change_subscriptions
from handlers.follow import describe_following
from handlers.keyboards import Action, View, parse_button, toggle_keyboard, toggle_keyboard_tags
from handlers.latest import DEFAULT_COUNT, send_latest
from storage.models import FollowOutcome


async def button(update: Update, context: TagwireContext) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None:
        return
    language = language_of(update)
    data = parse_button(query.data if isinstance(query.data, str) else None)
    tags = await context.store.get_tags([data.tag_id]) if data else {}
    if data is None or chat is None or data.tag_id not in tags:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    tag = tags[data.tag_id]

    if data.action is Action.LATEST:
        await query.answer()
        await send_latest(update, context, tag, DEFAULT_COUNT)
        return

    if not await may_change_subscriptions(update, context):
        await query.answer(plain("button_admins_only", language), show_alert=True)
        return

    if data.action is Action.FOLLOW:
        results = await context.following.follow_ids(chat.id, [tag.id])
        outcome = results[0].outcome if results else FollowOutcome.LIMIT
        answer = {
            FollowOutcome.FOLLOWED: plain("button_followed", language, tag=tag.name),
            FollowOutcome.ALREADY: plain("button_already", language, tag=tag.name),
            FollowOutcome.LIMIT: plain("button_limit", language, limit=context.following.max_tags),
        }[outcome]
    else:
        removed = await context.store.unfollow(chat.id, [tag.id])
        key = "button_unfollowed" if removed else "button_not_following"
        answer = plain(key, language, tag=tag.name)
    await query.answer(answer)

    followed_tags = await context.store.followed_tags(chat.id)
    if data.view is View.TAGS and query.message is not None:
        shown = toggle_keyboard_tags(getattr(query.message, "reply_markup", None))
        followed = {t.id for t in followed_tags}
        await edit_markup(query, toggle_keyboard(shown, followed))
    elif data.view is View.FOLLOWING:
        text, keyboard = describe_following(followed_tags, language)
        await edit(query, text, reply_markup=keyboard)
