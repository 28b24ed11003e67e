"""The one error handler: log first, with the update, then tell the user something went wrong."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import TagwireContext
from bot.texts.replies import DEFAULT_LANGUAGE, plain, render
from handlers.common import language_of, reply
from storage.base import StorageUnavailable

logger = logging.getLogger(__name__)


async def on_error(update: object, context: TagwireContext) -> None:
    storage = isinstance(context.error, StorageUnavailable)
    if storage:
        # Known and already logged by the store when it began: one line, no traceback.
        logger.warning("could not handle %s: %s", _describe(update), context.error)
    else:
        logger.error(
            "error while handling an update: %s",
            _describe(update),
            exc_info=context.error,
        )
    if isinstance(update, Update):
        await _tell(update, context, "storage_unavailable" if storage else "internal_error")


async def tell_storage_unavailable(update: Update, context: TagwireContext) -> None:
    """The polite answer when the database cannot take a write (full disk, long lock)."""
    await _tell(update, context, "storage_unavailable")


async def _tell(update: Update, context: TagwireContext, key: str) -> None:
    try:
        language = await language_of(update, context)
    except Exception:
        # The error may be the database itself; answer in English rather than not at all.
        language = DEFAULT_LANGUAGE
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(plain(key, language))
        elif update.effective_message is not None:
            await reply(update, render(key, language))
    except TelegramError as exc:
        logger.warning("could not tell the user about the error: %s", exc)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return repr(update)[:200]
    chat = update.effective_chat
    message = update.effective_message
    text = message.text[:100] if message is not None and message.text else ""
    return f"update {update.update_id} chat {chat.id if chat else None} text {text!r}"
