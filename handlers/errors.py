"""The one error handler: log first, with the update, then tell the user something went wrong."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import TagwireContext
from bot.texts import DEFAULT_LANGUAGE, plain, render
from handlers.common import language_of, reply

logger = logging.getLogger(__name__)


async def on_error(update: object, context: TagwireContext) -> None:
    logger.error(
        "error while handling an update: %s",
        _describe(update),
        exc_info=context.error,
    )
    if not isinstance(update, Update):
        return
    try:
        language = await language_of(update, context)
    except Exception:
        # The error may be the database itself; answer in English rather than not at all.
        language = DEFAULT_LANGUAGE
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(plain("internal_error", language))
        elif update.effective_message is not None:
            await reply(update, render("internal_error", language))
    except TelegramError as exc:
        logger.warning("could not tell the user about the error: %s", exc)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return repr(update)[:200]
    chat = update.effective_chat
    message = update.effective_message
    text = message.text[:100] if message is not None and message.text else ""
    return f"update {update.update_id} chat {chat.id if chat else None} text {text!r}"
