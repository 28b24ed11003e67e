"""/follow, /unfollow and /following — in a chat, a forum topic, or a channel by @name."""

from __future__ import annotations

import time

from telegram import InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.following import FollowReport, InvalidEntry
from bot.tags import deep_link_payload
from bot.texts.plain import MESSAGE_LIMIT, cut_at_word, strip_html, utf16_len
from bot.texts.replies import Html, bold, join_html, plain, render
from handlers.common import Target, command_argument, language_of, reply
from handlers.keyboards import Action, suggestion_keyboard, toggle_keyboard, unfollow_keyboard
from handlers.targets import resolve_target, under_channel
from storage.models import Tag

PICKER_SIZE = 12
MAX_INVALID_SHOWN = 5
# Tags without stories shown each on a line of their own (with suggestions); the rest share one.
MAX_NEW_SHOWN = 3
POPULAR_WINDOW = 30 * 24 * 3600


def _names(tags: list[Tag], language: str) -> Html:
    return join_html([bold(tag.name) for tag in tags], language=language)


def _invalid_lines(entries: list[InvalidEntry], language: str) -> list[Html]:
    lines = [
        render(
            "invalid_tag",
            language,
            raw=cut_at_word(entry.raw, 60),
            reason=plain(entry.key, language),
        )
        for entry in entries[:MAX_INVALID_SHOWN]
    ]
    if len(entries) > MAX_INVALID_SHOWN:
        lines.append(render("more_count", language, count=len(entries) - MAX_INVALID_SHOWN))
    return lines


def describe_follow(
    report: FollowReport,
    language: str,
    bot_username: str | None,
    limit: int,
    channel: str | None = None,
) -> tuple[Html, InlineKeyboardMarkup | None]:
    """The answer to a follow: what is followed now, what was not and why, and suggestions."""
    lines: list[Html] = []
    suggestions: list[Tag] = []
    if channel:
        lines.append(render("channel_scope", language, channel=channel))
    if report.followed:
        lines.append(render("followed", language, tags=_names(report.followed, language)))
    for tag, close in report.without_stories[:MAX_NEW_SHOWN]:
        lines.append(render("new_tag", language, tag=bold(tag.name)))
        if close:
            lines.append(render("did_you_mean", language, tags=_names(close, language)))
            suggestions.extend(t for t in close if t not in suggestions)
    rest = [tag for tag, _ in report.without_stories[MAX_NEW_SHOWN:]]
    if rest:
        lines.append(render("new_tag", language, tag=_names(rest, language)))
    if report.already:
        lines.append(render("already_following", language, tags=_names(report.already, language)))
    if report.over_limit:
        lines.append(
            render("tag_limit", language, limit=limit, tags=_names(report.over_limit, language))
        )
    lines.extend(_invalid_lines(report.invalid, language))
    shared = report.followed or report.already
    if len(shared) == 1 and bot_username and not channel:
        payload = deep_link_payload(shared[0].name)
        if payload:
            link = f"https://t.me/{bot_username}?start={payload}"
            lines.append(render("share_link", language, link=link))
    # Suggestion buttons act on the chat they are tapped in, so none for a channel.
    keyboard = None if channel else suggestion_keyboard(suggestions, Action.FOLLOW)
    return _fit(lines), keyboard


def _fit(lines: list[Html]) -> Html:
    """The lines as one message, the last ones left out when together they are too long."""
    while len(lines) > 1 and utf16_len(strip_html("\n\n".join(lines))) > MESSAGE_LIMIT:
        lines.pop()
    return Html("\n\n".join(lines))


async def follow(update: Update, context: TagwireContext) -> None:
    resolved = await resolve_target(update, context, command_argument(update), changing=True)
    if resolved is None:
        return
    language = await language_of(update, context)
    if not resolved.rest:
        await show_picker(update, context, resolved.target, resolved.channel)
        return
    report = await context.following.follow(
        resolved.target.chat_id, resolved.rest, resolved.target.thread_id
    )
    text, keyboard = describe_follow(
        report, language, context.bot.username, context.following.max_tags, resolved.channel
    )
    await reply(update, text, reply_markup=keyboard)


async def show_picker(
    update: Update, context: TagwireContext, target: Target, channel: str | None = None
) -> None:
    """The most active and most followed tags as buttons to tap."""
    language = await language_of(update, context)
    popular = await context.store.popular_tags(PICKER_SIZE, time.time() - POPULAR_WINDOW)
    if not popular:
        await reply(update, render("follow_pick_empty", language))
        return
    followed = {t.id for t in await context.store.followed_tags(target.chat_id, target.thread_id)}
    keyboard = toggle_keyboard(
        [(item.tag.id, item.tag.name) for item in popular],
        followed,
        channel_id=target.chat_id if channel else None,
    )
    text = under_channel(render("follow_pick", language), channel, language)
    await reply(update, text, reply_markup=keyboard)


async def unfollow(update: Update, context: TagwireContext) -> None:
    resolved = await resolve_target(update, context, command_argument(update), changing=True)
    if resolved is None:
        return
    language = await language_of(update, context)
    target, channel = resolved.target, resolved.channel
    if not resolved.rest:
        tags = await context.store.followed_tags(target.chat_id, target.thread_id)
        if not tags:
            await reply(update, render("following_none", language))
            return
        keyboard = unfollow_keyboard(tags, channel_id=target.chat_id if channel else None)
        await reply(update, render("unfollow_pick", language), reply_markup=keyboard)
        return
    if resolved.rest.casefold() == "all":
        count = await context.store.unfollow_all(target.chat_id, target.thread_id)
        if count == 0:
            await reply(update, render("following_none", language))
        else:
            await reply(update, render("unfollowed_all", language, count=count))
        return
    report = await context.following.unfollow(target.chat_id, resolved.rest, target.thread_id)
    lines: list[Html] = []
    if channel:
        lines.append(render("channel_scope", language, channel=channel))
    if report.removed:
        lines.append(render("unfollowed", language, tags=_names(report.removed, language)))
    if report.not_followed:
        names = join_html([bold(name) for name in report.not_followed], language=language)
        lines.append(render("not_following", language, tags=names))
    lines.extend(_invalid_lines(report.invalid, language))
    await reply(update, Html("\n\n".join(lines)))


def describe_following(
    tags: list[Tag], language: str, channel: str | None = None, channel_id: int | None = None
) -> tuple[Html, InlineKeyboardMarkup | None]:
    if not tags:
        return under_channel(render("following_none", language), channel, language), None
    listing = join_html(
        [Html(f"• {bold(tag.name)}") for tag in tags], "\n", budget=3000, language=language
    )
    text = render("following_list", language, count=len(tags), tags=listing)
    return under_channel(text, channel, language), unfollow_keyboard(tags, channel_id=channel_id)


async def following(update: Update, context: TagwireContext) -> None:
    resolved = await resolve_target(update, context, command_argument(update), changing=False)
    if resolved is None:
        return
    target = resolved.target
    text, keyboard = describe_following(
        await context.store.followed_tags(target.chat_id, target.thread_id),
        await language_of(update, context),
        resolved.channel,
        target.chat_id if resolved.channel else None,
    )
    await reply(update, text, reply_markup=keyboard)
