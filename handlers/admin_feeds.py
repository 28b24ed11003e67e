"""The operators' /resume: poll a feed again that was paused after TAGWIRE_FEED_PAUSE_AFTER
failed polls in a row (as `tagwire feeds resume URL` does). Registered with the other admin
commands by handlers/admin.py, for the admins alone."""

from __future__ import annotations

from telegram import Update

from bot.context import TagwireContext
from bot.intake.feeds import display_url
from bot.texts.replies import render
from handlers.common import command_argument, language_of, reply


async def resume(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    argument = command_argument(update).strip()
    if not argument:
        await reply(update, render("admin_resume_usage", language))
        return
    # The URL as /feeds and the alerts show it (without a password) names the feed too.
    known = await context.store.list_feeds()
    feed = next((f for f in known if f.url == argument), None) or next(
        (f for f in known if display_url(f.url) == argument), None
    )
    if feed is None:
        await reply(update, render("admin_resume_unknown", language, url=argument))
        return
    before = await context.store.resume_feed(feed.url)
    interval = f"{context.settings.feed_interval:g}"
    url = display_url(feed.url)
    if before is None:
        await reply(update, render("admin_resume_unknown", language, url=argument))
    elif before.paused_at is None:
        await reply(update, render("admin_resume_not_paused", language, url=url, interval=interval))
    else:
        await reply(update, render("admin_resume_done", language, url=url, interval=interval))
