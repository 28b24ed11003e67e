"""Telegram commands and callbacks; `register_handlers` wires them all."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import TagwireApplication
from bot.texts import DEFAULT_LANGUAGE, plain
from handlers import buttons, chats, errors, fallback, follow, latest, start, tags

COMMANDS = ("start", "help", "follow", "unfollow", "following", "latest", "tags")

# Edited messages and channel posts are not commands to answer.
_NEW_MESSAGES = filters.UpdateType.MESSAGE


def bot_commands(language: str = DEFAULT_LANGUAGE) -> list[BotCommand]:
    """The menu Telegram shows, registered with setMyCommands at start."""
    return [BotCommand(name, plain(f"command_{name}", language)) for name in COMMANDS]


def register_handlers(application: TagwireApplication) -> None:
    application.add_handler(TypeHandler(Update, chats.record_chat), group=-1)
    application.add_handler(
        ChatMemberHandler(chats.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chats.chat_migrated))

    for name, callback in (
        ("start", start.start),
        ("help", start.help_command),
        ("follow", follow.follow),
        ("unfollow", follow.unfollow),
        ("following", follow.following),
        ("latest", latest.latest),
        ("tags", tags.tags),
    ):
        application.add_handler(CommandHandler(name, callback, filters=_NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(buttons.button))

    application.add_handler(
        MessageHandler(_NEW_MESSAGES & filters.COMMAND, fallback.unknown_command)
    )
    application.add_handler(
        MessageHandler(
            _NEW_MESSAGES & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            fallback.plain_text,
        )
    )
    application.add_error_handler(errors.on_error)
