"""Answers for what no command handled: a pointer to /help, never silence in a private chat."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.context import TagwireContext
from bot.texts.plain import cut_at_word
from bot.texts.replies import render
from handlers.common import language_of, reply


async def unknown_command(update: Update, context: TagwireContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or message.text is None or chat is None:
        return
    command = message.text.split(maxsplit=1)[0]
    name, _, addressee = command.partition("@")
    if chat.type != ChatType.PRIVATE and (
        not addressee or addressee.casefold() != (context.bot.username or "").casefold()
    ):
        # In a group, a bare /command may be meant for another bot.
        return
    await reply(
        update,
        render(
            "unknown_command", await language_of(update, context), command=cut_at_word(name, 64)
        ),
    )


async def plain_text(update: Update, context: TagwireContext) -> None:
    await reply(update, render("plain_text", await language_of(update, context)))
