"""/follow, /unfollow and /following."""

from __future__ import annotations

import time

from telegram import InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.following import FollowReport, InvalidEntry
from bot.tags import deep_link_payload
from bot.text import cut_at_word, escape
from bot.texts import Html, bold, join_html, render
from handlers.common import (
    command_argument,
    language_of,
    may_change_subscriptions,
    reply,
)
from handlers.keyboards import Action, suggestion_keyboard, toggle_keyboard, unfollow_keyboard
from storage.models import Tag

PICKER_SIZE = 12
MAX_INVALID_SHOWN = 5
POPULAR_WINDOW = 30 * 24 * 3600


def _names(tags: list[Tag]) -> Html:
    return join_html([bold(tag.name) for tag in tags])


def _invalid_lines(entries: list[InvalidEntry], language: str) -> list[Html]:
    lines = [
        render("invalid_tag", language, raw=cut_at_word(entry.raw, 60), reason=entry.reason)
        for entry in entries[:MAX_INVALID_SHOWN]
    ]
    if len(entries) > MAX_INVALID_SHOWN:
        lines.append(Html(escape(f"+{len(entries) - MAX_INVALID_SHOWN} more")))
    return lines


def describe_follow(
    report: FollowReport, language: str, bot_username: str | None, limit: int
) -> tuple[Html, InlineKeyboardMarkup | None]:
    """The answer to a follow: what is followed now, what was not and why, and suggestions."""
    lines: list[Html] = []
    suggestions: list[Tag] = []
    if report.followed:
        lines.append(render("followed", language, tags=_names(report.followed)))
    for tag, close in report.without_stories:
        lines.append(render("new_tag", language, tag=bold(tag.name)))
        if close:
            lines.append(render("did_you_mean", language, tags=_names(close)))
            suggestions.extend(t for t in close if t not in suggestions)
    if report.already:
        lines.append(render("already_following", language, tags=_names(report.already)))
    if report.over_limit:
        lines.append(render("tag_limit", language, limit=limit, tags=_names(report.over_limit)))
    lines.extend(_invalid_lines(report.invalid, language))
    shared = report.followed or report.already
    if len(shared) == 1 and bot_username:
        payload = deep_link_payload(shared[0].name)
        if payload:
            link = f"https://t.me/{bot_username}?start={payload}"
            lines.append(render("share_link", language, link=link))
    keyboard = suggestion_keyboard(suggestions, Action.FOLLOW)
    return Html("\n\n".join(lines)), keyboard


async def follow(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = language_of(update)
    if not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    argument = command_argument(update)
    if not argument:
        await show_picker(update, context)
        return
    report = await context.following.follow(chat.id, argument)
    text, keyboard = describe_follow(
        report, language, context.bot.username, context.following.max_tags
    )
    await reply(update, text, reply_markup=keyboard)


async def show_picker(update: Update, context: TagwireContext) -> None:
    """The most active and most followed tags as buttons to tap."""
    chat = update.effective_chat
    assert chat is not None
    language = language_of(update)
    popular = await context.store.popular_tags(PICKER_SIZE, time.time() - POPULAR_WINDOW)
    if not popular:
        await reply(update, render("follow_pick_empty", language))
        return
    followed = {tag.id for tag in await context.store.followed_tags(chat.id)}
    keyboard = toggle_keyboard([(item.tag.id, item.tag.name) for item in popular], followed)
    await reply(update, render("follow_pick", language), reply_markup=keyboard)


async def unfollow(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = language_of(update)
    if not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    argument = command_argument(update)
    if not argument:
        tags = await context.store.followed_tags(chat.id)
        if not tags:
            await reply(update, render("following_none", language))
            return
        await reply(update, render("unfollow_pick", language), reply_markup=unfollow_keyboard(tags))
        return
    if argument.casefold() == "all":
        count = await context.store.unfollow_all(chat.id)
        if count == 0:
            await reply(update, render("following_none", language))
        else:
            await reply(update, render("unfollowed_all", language, count=count))
        return
    report = await context.following.unfollow(chat.id, argument)
    lines: list[Html] = []
    if report.removed:
        lines.append(render("unfollowed", language, tags=_names(report.removed)))
    if report.not_followed:
        names = join_html([bold(name) for name in report.not_followed])
        lines.append(render("not_following", language, tags=names))
    lines.extend(_invalid_lines(report.invalid, language))
    await reply(update, Html("\n\n".join(lines)))


def describe_following(tags: list[Tag], language: str) -> tuple[Html, InlineKeyboardMarkup | None]:
    if not tags:
        return render("following_none", language), None
    listing = join_html([Html(f"• {bold(tag.name)}") for tag in tags], "\n", budget=3000)
    return render("following_list", language, count=len(tags), tags=listing), unfollow_keyboard(
        tags
    )


async def following(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    text, keyboard = describe_following(
        await context.store.followed_tags(chat.id), language_of(update)
    )
    await reply(update, text, reply_markup=keyboard)
