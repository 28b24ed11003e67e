"""The admins' /retract URL: withdraws a story after a tap on Confirm (bot/intake/corrections.py
does it, the same as `tagwire retract` and DELETE /api/articles/{id}).

The buttons carry the story's id and a signature made with the bot's token, so a tap is checked
on arrival: only an admin may tap, and data the bot never issued (forged, or for another story)
is refused with a clear answer; nothing is retracted without a tap on a genuine Confirm."""

from __future__ import annotations

import hashlib
import hmac
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.texts.plain import cut_at_word
from bot.texts.replies import plain, render
from handlers.common import command_argument, edit, language_of, reply

# Callback data: rt:y:<story id>:<signature> (confirm) or rt:n:… (cancel).
PREFIX = "rt:"
_DATA = re.compile(r"^rt:([yn]):([1-9][0-9]{0,17}):([0-9a-f]{16})$")
_TITLE_SHOWN = 200
_URL_SHOWN = 300


def _signature(token: str, action: str, article_id: int) -> str:
    message = f"retract:{action}:{article_id}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()[:16]


def button_data(token: str, action: str, article_id: int) -> str:
    """The data of a Confirm (`y`) or Cancel (`n`) button for the story."""
    return f"{PREFIX}{action}:{article_id}:{_signature(token, action, article_id)}"


def parse_data(token: str, data: str | None) -> tuple[str, int] | None:
    """(action, story id) of a button this bot issued; None for anything else."""
    match = _DATA.fullmatch(data or "")
    if match is None:
        return None
    action, article_id = match[1], int(match[2])
    if not hmac.compare_digest(match[3], _signature(token, action, article_id)):
        return None
    return action, article_id


async def retract(update: Update, context: TagwireContext) -> None:
    """/retract URL (or id): asks for a confirmation, with Confirm and Cancel buttons."""
    language = await language_of(update, context)
    argument = command_argument(update).strip()
    corrections = context.bot_data.require().corrections
    if not argument or len(argument.split()) != 1 or corrections is None:
        await reply(update, render("admin_retract_usage", language))
        return
    article_id = await corrections.find(argument)
    article = None
    if article_id is not None:
        article = (await context.store.get_articles([article_id])).get(article_id)
    if article_id is None or article is None:
        shown = cut_at_word(argument, _URL_SHOWN)
        await reply(update, render("admin_story_unknown", language, url=shown))
        return
    if await context.store.retracted_at(article_id) is not None:
        await reply(update, render("admin_retract_already", language, url=article.url))
        return
    token = context.settings.require_token()
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    plain("admin_retract_button", language),
                    callback_data=button_data(token, "y", article_id),
                ),
                InlineKeyboardButton(
                    plain("admin_retract_cancel_button", language),
                    callback_data=button_data(token, "n", article_id),
                ),
            ]
        ]
    )
    text = render(
        "admin_retract_confirm",
        language,
        title=cut_at_word(article.title, _TITLE_SHOWN),
        url=cut_at_word(article.url, _URL_SHOWN),
    )
    await reply(update, text, reply_markup=keyboard)


async def retract_button(update: Update, context: TagwireContext) -> None:
    """A tap on Confirm or Cancel under /retract's question."""
    query = update.callback_query
    if query is None:
        return
    language = await language_of(update, context)
    user = update.effective_user
    if user is None or user.id not in context.settings.admin_ids:
        await query.answer(plain("admin_retract_not_admin", language), show_alert=True)
        return
    token = context.settings.require_token()
    parsed = parse_data(token, query.data if isinstance(query.data, str) else None)
    corrections = context.bot_data.require().corrections
    if parsed is None or corrections is None:
        await query.answer(plain("admin_retract_forged", language), show_alert=True)
        return
    action, article_id = parsed
    article = (await context.store.get_articles([article_id])).get(article_id)
    if article is None:
        await query.answer(plain("admin_retract_gone", language), show_alert=True)
        return
    await query.answer()
    url = cut_at_word(article.url, _URL_SHOWN)
    if action == "n":
        await edit(query, render("admin_retract_cancelled", language, url=url))
        return
    retraction = await corrections.retract(article_id)
    if retraction is None:
        await edit(query, render("admin_retract_gone", language))
    elif retraction.already:
        await edit(query, render("admin_retract_already", language, url=url))
    else:
        await edit(
            query,
            render(
                "admin_retract_done",
                language,
                url=url,
                cancelled=retraction.cancelled,
                deletes=retraction.deletes_queued,
            ),
        )
