"""/follow, /unfollow and /following — in a chat, a forum topic, or a channel by @name."""

from __future__ import annotations

import time

from telegram import InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.following import (
    MAX_FOLLOW_WORDS,
    NEW_TAGS_WITH_SUGGESTIONS,
    FollowReport,
    InvalidEntry,
    WordsProblem,
)
from bot.tags import deep_link_payload
from bot.texts.plain import (
    MESSAGE_LIMIT,
    cut_at_word,
    escape,
    escape_attribute,
    strip_html,
    utf16_len,
)
from bot.texts.replies import Html, bold, join_html, plain, render
from handlers.common import Target, command_argument, language_of, reply
from handlers.keyboards import (
    Action,
    following_keyboard,
    suggestion_keyboard,
    toggle_keyboard,
    unfollow_keyboard,
)
from handlers.targets import resolve_target, under_channel
from storage.base import Store
from storage.models import Article, Follow, Tag
from storage.words import FollowWords, StoryText

PICKER_SIZE = 12
MAX_INVALID_SHOWN = 5
# Tags without stories shown each on a line of their own (with suggestions); the rest share one.
MAX_NEW_SHOWN = NEW_TAGS_WITH_SUGGESTIONS
POPULAR_WINDOW = 30 * 24 * 3600
# A taste of a tag just followed: its newest stories (those its words let through).
TASTE_SIZE = 3
# Stories looked at to find TASTE_SIZE that the words let through.
TASTE_SCAN = 30
TASTE_TITLE = 150


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


def describe_words(words: FollowWords, language: str) -> Html:
    """`only with earthquake, tsunami; except drill`."""
    parts: list[Html] = []
    if words.only:
        listing = join_html([bold(w) for w in words.only], budget=600, language=language)
        parts.append(render("words_only", language, words=listing))
    if words.skip:
        listing = join_html([bold(w) for w in words.skip], budget=600, language=language)
        parts.append(render("words_skip", language, words=listing))
    return Html("; ".join(parts))


def describe_problem(problem: WordsProblem, language: str) -> Html:
    """The answer to words that were refused: what is wrong, and that nothing changed."""
    words = join_html(
        [bold(cut_at_word(w, 40)) for w in problem.words], budget=600, language=language
    )
    return render(
        problem.key,
        language,
        keyword=problem.words[0] if problem.words else "",
        words=words,
        count=problem.count,
        limit=MAX_FOLLOW_WORDS,
    )


def _taste_line(article: Article) -> str:
    title = escape(cut_at_word(article.title, TASTE_TITLE))
    return f'• <a href="{escape_attribute(article.url)}">{title}</a>'


async def taste(store: Store, report: FollowReport, language: str) -> Html | None:
    """The newest stories of the one tag just followed (as its words filter them), or None
    when it has none or several tags were followed."""
    tags = report.followed or report.already
    if len(tags) != 1 or tags[0].story_count == 0:
        return None
    words = report.words or FollowWords()
    picked: list[Article] = []
    for article in await store.latest_articles(tags[0].id, TASTE_SCAN if words else TASTE_SIZE):
        if not words or StoryText(article.title, article.teaser).lets_through(
            words.only, words.skip
        ):
            picked.append(article)
        if len(picked) == TASTE_SIZE:
            break
    if not picked:
        return None
    stories = Html("\n".join(_taste_line(article) for article in picked))
    return render("taste", language, tag=bold(tags[0].name), stories=stories)


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
    if report.problem is not None:
        lines.append(describe_problem(report.problem, language))
        return _fit(lines), None
    if report.followed:
        lines.append(render("followed", language, tags=_names(report.followed, language)))
    worded = report.followed + report.already
    if report.words and worded:
        lines.append(
            render(
                "followed_words",
                language,
                tags=_names(worded, language),
                words=describe_words(report.words, language),
            )
        )
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


def with_taste(text: Html, tasted: Html | None) -> Html:
    """The answer to a follow with the taste below it, when both fit in one message."""
    if tasted is None:
        return text
    joined = Html(f"{text}\n\n{tasted}")
    return joined if utf16_len(strip_html(joined)) <= MESSAGE_LIMIT else text


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
    await reply(
        update,
        with_taste(text, await taste(context.store, report, language)),
        reply_markup=keyboard,
    )


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


def _following_line(follow: Follow, language: str) -> Html:
    line = f"• {bold(follow.tag.name)}"
    if follow.words:
        line += f" — {describe_words(follow.words, language)}"
    return Html(line)


def describe_following(
    follows: list[Follow],
    language: str,
    channel: str | None = None,
    channel_id: int | None = None,
) -> tuple[Html, InlineKeyboardMarkup | None]:
    if not follows:
        return under_channel(render("following_none", language), channel, language), None
    listing = join_html(
        [_following_line(follow, language) for follow in follows],
        "\n",
        budget=3000,
        language=language,
    )
    text = Html(
        render("following_list", language, count=len(follows), tags=listing)
        + "\n"
        + render("following_words_hint", language)
    )
    keyboard = following_keyboard(follows, channel_id=channel_id)
    return under_channel(text, channel, language), keyboard


async def following(update: Update, context: TagwireContext) -> None:
    resolved = await resolve_target(update, context, command_argument(update), changing=False)
    if resolved is None:
        return
    target = resolved.target
    text, keyboard = describe_following(
        await context.store.follows(target.chat_id, target.thread_id),
        await language_of(update, context),
        resolved.channel,
        target.chat_id if resolved.channel else None,
    )
    await reply(update, text, reply_markup=keyboard)
