"""The operators' /story: what became of one story's deliveries (the same report as
`tagwire story URL` and GET /api/articles/{id}/report), registered with the other admin
commands by handlers/admin.py."""

from __future__ import annotations

from telegram import Update

from bot.context import TagwireContext
from bot.texts.plain import cut_at_word
from bot.texts.replies import render
from bot.texts.report import report_message
from handlers.common import command_argument, language_of, reply

# Of a URL that names no story, this much is shown back.
_URL_SHOWN = 300


async def story(update: Update, context: TagwireContext) -> None:
    language = await language_of(update, context)
    argument = command_argument(update).strip()
    if not argument or len(argument.split()) != 1:
        await reply(update, render("admin_story_usage", language))
        return
    if argument.isascii() and argument.isdigit() and len(argument) <= 18:
        # A story's id, as the API answers it.
        article_id: int | None = int(argument)
    else:
        article_id = await context.store.article_id_for_url(argument)
    report = None if article_id is None else await context.store.story_report(article_id)
    if report is None:
        shown = cut_at_word(argument, _URL_SHOWN)
        await reply(update, render("admin_story_unknown", language, url=shown))
        return
    await reply(update, report_message(report, language))
