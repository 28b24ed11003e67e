"""/start (with an optional `follow_…` deep link) and /help."""

from __future__ import annotations

from telegram import Update

from bot.context import TagwireContext
from bot.tags import tag_from_deep_link
from bot.texts.replies import Html, render
from handlers.common import command_argument, language_of, may_change_subscriptions, reply
from handlers.follow import describe_follow, taste, with_taste


async def start(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = await language_of(update, context)
    welcome = render("start", language)
    payload = command_argument(update)
    if not payload:
        await reply(update, welcome)
        return
    tag = tag_from_deep_link(payload)
    if tag is None:
        await reply(update, Html(welcome + "\n\n" + render("start_link_invalid", language)))
        return
    if not await may_change_subscriptions(update, context):
        await reply(update, Html(welcome + "\n\n" + render("group_admins_only", language)))
        return
    report = await context.following.follow(chat.id, tag, with_words=False)
    text, keyboard = describe_follow(
        report, language, context.bot.username, context.following.max_tags
    )
    tasted = await taste(context.store, report, language)
    await reply(update, with_taste(Html(welcome + "\n\n" + text), tasted), reply_markup=keyboard)


async def help_command(update: Update, context: TagwireContext) -> None:
    await reply(update, render("help", await language_of(update, context)))
