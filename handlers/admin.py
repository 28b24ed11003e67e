"""Operators' commands: /post, /stats, /feeds.

Only TAGWIRE_ADMIN_IDS may use them, and only in a private chat with the bot (the answers are
operational); for anyone else they are not there: the update falls through to the answer for an
unknown command.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ExtBot, MessageHandler, filters

from bot.context import TagwireApplication, TagwireContext
from bot.intake.feeds import display_url
from bot.intake.ingest import RawRecord
from bot.leadership import INSTANCES_WINDOW
from bot.tags import split_tag_list
from bot.texts.formatting import render_caption, render_teaser
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from bot.texts.replies import Html, plain, render
from bot.texts.report import when as report_when
from handlers import admin_feeds, corrections, newsroom
from handlers.common import command_argument, language_of, reply, reply_photo

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = ("post", "stats", "feeds", "resume", "story", "retract")
# Room left in a /feeds answer for its last line.
_FEEDS_BUDGET = MESSAGE_LIMIT - 200
_MAX_ERROR_SHOWN = 200
# `/post` as the caption of a photo: the photo is the story's picture.
POST_CAPTION = re.compile(r"^/post(?:@([A-Za-z0-9_]+))?(?=\s|$)", re.IGNORECASE)
_WEB_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


def register(application: TagwireApplication) -> None:
    """Add the admin commands; call before the handler for unknown commands."""
    admin_ids = application.bot_data.require_settings().admin_ids
    only_admins = (
        filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.User(user_id=admin_ids)
    )
    for name, callback in (
        ("post", post),
        ("stats", stats),
        ("feeds", feeds),
        ("resume", admin_feeds.resume),
        ("story", newsroom.story),
        ("retract", corrections.retract),
    ):
        application.add_handler(CommandHandler(name, callback, filters=only_admins))
    # A caption is no command to CommandHandler.
    application.add_handler(
        MessageHandler(only_admins & filters.PHOTO & filters.CaptionRegex(POST_CAPTION), post_photo)
    )


async def register_admin_menu(
    bot: ExtBot[str],
    admin_ids: Collection[int],
    menus: Mapping[str | None, Sequence[BotCommand]],
) -> None:
    """Show the admin commands in each admin's own menu, one per language code (None: the
    default); a failure (an admin who never started the bot is a "chat not found") is logged
    and the bot starts anyway."""
    for admin_id in sorted(admin_ids):
        try:
            for language, commands in menus.items():
                await bot.set_my_commands(
                    commands, scope=BotCommandScopeChat(admin_id), language_code=language
                )
        except TelegramError as exc:
            logger.warning("could not register the admin menu for user %s: %s", admin_id, exc)


# /post


def _hashtags(words: Sequence[str]) -> list[str]:
    # A teaser shows "Kuril Islands" as #Kuril_Islands, so the same hashtag names it here.
    return [word.lstrip("#").replace("_", " ") for word in words]


def _tag_line(line: str) -> list[str]:
    words = line.split()
    if words and all(word.startswith("#") for word in words):
        return _hashtags(words)
    return [part.strip() for part in split_tag_list(line)]


def _single_line(text: str) -> dict[str, Any]:
    words = text.split()
    url = words[0] if words else ""
    rest = words[1:]
    tag_count = 0
    while tag_count < len(rest) and rest[len(rest) - 1 - tag_count].startswith("#"):
        tag_count += 1
    title_words = rest[: len(rest) - tag_count]
    return {
        "url": url,
        "title": " ".join(title_words),
        "tags": _hashtags(rest[len(rest) - tag_count :]),
    }


def parse_post(argument: str) -> dict[str, Any]:
    """A story record from `/post`'s text, for the usual validation to judge.

    One line: `<url> <title…> #tag1 #tag2`. Several lines: the URL, the title, the teaser
    (optional, may span lines), and the tags last (`#Japan #Kuril_Islands` or
    `Japan, Kuril Islands`). Either way an http(s) URL right after the story's URL (on its
    line, or alone on the next) is the story's picture.
    """
    lines = [line.strip() for line in argument.splitlines() if line.strip()]
    image: str | None = None
    if lines:
        words = lines[0].split()
        if len(words) > 1 and _WEB_URL.match(words[1]):
            image = words.pop(1)
            lines[0] = " ".join(words)
        elif len(words) == 1 and len(lines) > 1 and _WEB_URL.match(lines[1]):
            image = lines.pop(1)
    record = _lines_record(lines)
    if image is not None:
        record["image"] = image
    return record


def _lines_record(lines: list[str]) -> dict[str, Any]:
    if len(lines) <= 1:
        return _single_line(lines[0] if lines else "")
    if len(lines) == 2:
        return _single_line(f"{lines[0]} {lines[1]}")
    record: dict[str, Any] = {"url": lines[0], "title": lines[1], "tags": _tag_line(lines[-1])}
    if len(lines) > 3:
        record["teaser"] = "\n".join(lines[2:-1])
    return record


async def post(update: Update, context: TagwireContext) -> None:
    await _publish(update, context, command_argument(update), photo=None)


async def post_photo(update: Update, context: TagwireContext) -> None:
    """A photo sent with `/post …` as its caption: the story's picture is that photo, kept as
    its file_id (the largest size), which sendPhoto takes as it is."""
    message = update.effective_message
    if message is None or not message.photo:
        return
    caption = message.caption or ""
    match = POST_CAPTION.match(caption)
    if match is None:
        return
    if match[1] and match[1].casefold() != (context.bot.username or "").casefold():
        return
    await _publish(update, context, caption[match.end() :].strip(), photo=message.photo[-1].file_id)


async def _publish(
    update: Update, context: TagwireContext, argument: str, *, photo: str | None
) -> None:
    language = await language_of(update, context)
    if not argument:
        await reply(update, render("admin_post_usage", language))
        return
    record = RawRecord("record 1", data=parse_post(argument), photo=photo)
    report = await context.ingestor.ingest([record], keep_records=True)
    context.metrics.count_ingest("telegram", report)
    outcome = report.records[0]
    if outcome.rejection is not None:
        problem = render(
            "admin_post_rejected",
            language,
            field=outcome.rejection.field,
            reason=outcome.rejection.reason,
        )
        await reply(update, Html(problem + "\n\n" + render("admin_post_usage", language)))
        return
    result = outcome.result
    assert result is not None
    if report.created:
        head = render("admin_post_published", language, count=result.recipients)
    else:
        head = render("admin_post_duplicate", language, id=result.article_id)
    article = (await context.store.get_articles([result.article_id])).get(result.article_id)
    schedule = await context.store.get_schedule(result.article_id)
    if schedule is not None and schedule.held:
        # A known URL held for later: not in its tags' lists yet, so shown as it was pushed.
        when = report_when(schedule.publish_at)
        head = Html(head + "\n" + render("admin_post_scheduled", language, when=when))
        article = schedule.article
    if article is None:
        await reply(update, head)
        return
    caption = render_caption(article) if article.image else None
    if article.image and caption is not None:
        # As the readers get it: the picture with the teaser as its caption.
        await reply(update, head)
        if not await reply_photo(update, article.image, caption):
            # Telegram refused the picture: the readers get the text teaser, so does the admin.
            await reply(update, render_teaser(article))
        return
    teaser = render_teaser(article)
    combined = head + "\n\n" + teaser
    if utf16_len(combined) <= MESSAGE_LIMIT:
        await reply(update, combined)
    else:
        await reply(update, head)
        await reply(update, teaser)


# /stats


async def stats(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    figures = await context.store.stats()
    seen = await context.store.instances(since=time.time() - INSTANCES_WINDOW)
    delay = (
        f"{figures.last_delivery_delay:.1f} s"
        if figures.last_delivery_delay is not None
        else plain("admin_stats_no_delay", language)
    )
    await reply(
        update,
        render(
            "admin_stats",
            language,
            active=figures.chats_active,
            inactive=figures.chats_inactive,
            subscriptions=figures.subscriptions,
            stories=figures.stories,
            pending=figures.deliveries_pending,
            failed=figures.deliveries_failed,
            sent=figures.deliveries_sent,
            delay=delay,
            instances=", ".join(
                f"{instance.name} ({plain('role_' + instance.role, language)})" for instance in seen
            )
            or "—",
        ),
    )


# /feeds


def _when(timestamp: float | None, language: str) -> str:
    if timestamp is None:
        return plain("admin_feeds_never", language)
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def feeds(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    known = await context.store.list_feeds()
    if not known:
        await reply(update, render("admin_feeds_none", language))
        return
    blocks: list[str] = [render("admin_feeds_heading", language, count=len(known))]
    used = utf16_len(blocks[0])
    for number, feed in enumerate(known, start=1):
        block: str = render(
            "admin_feeds_item",
            language,
            number=number,
            url=display_url(feed.url),
            tags=", ".join(feed.tags) or plain("admin_feeds_no_tags", language),
            success=_when(feed.last_success_at, language),
        )
        if feed.last_error is not None:
            block += "\n" + render(
                "admin_feeds_error",
                language,
                when=_when(feed.last_error_at, language),
                failures=feed.failures,
                error=feed.last_error[:_MAX_ERROR_SHOWN],
            )
        if feed.paused_at is not None:
            block += "\n" + render(
                "admin_feeds_paused",
                language,
                when=_when(feed.paused_at, language),
                url=display_url(feed.url),
            )
        if used + utf16_len(block) + 2 > _FEEDS_BUDGET:
            blocks.append(render("admin_feeds_more", language, count=len(known) - number + 1))
            break
        blocks.append(block)
        used += utf16_len(block) + 2
    await reply(update, "\n\n".join(blocks))
