"""Telegram commands and callbacks; `register_handlers` wires them all.

Handlers parse, call a service or the store, and reply: no SQL here, no module-level state.
May import: `bot.context` and every layer below it (services, `texts`, `delivery.sender`,
`storage`). Never: `bot.web`, `bot.app`, `bot.operators`, `bot.cli`.
"""

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
from bot.texts.replies import DEFAULT_LANGUAGE, plain
from handlers import (
    admin,
    buttons,
    channels,
    chats,
    corrections,
    errors,
    export_import,
    fallback,
    follow,
    latest,
    mute,
    search,
    settings,
    start,
    tags,
    usage,
)

COMMANDS = (
    "start",
    "help",
    "follow",
    "unfollow",
    "following",
    "latest",
    "tags",
    "search",
    "settings",
    "mute",
    "unmute",
    "muted",
    "timezone",
    "quiet",
    "channels",
    "export",
    "import",
)

# Edited messages and channel posts are not commands to answer.
_NEW_MESSAGES = filters.UpdateType.MESSAGE


def bot_commands(language: str = DEFAULT_LANGUAGE, *, for_admins: bool = False) -> list[BotCommand]:
    """The menu Telegram shows, registered with setMyCommands at start; `for_admins`: the
    menu of the operators' own chats, which has their commands too."""
    names = COMMANDS + admin.ADMIN_COMMANDS if for_admins else COMMANDS
    return [BotCommand(name, plain(f"command_{name}", language)) for name in names]


def register_handlers(application: TagwireApplication) -> None:
    application.add_handler(TypeHandler(Update, chats.command_throttle(COMMANDS)), group=-2)
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
        ("search", search.search),
        ("settings", settings.settings_command),
        ("mute", mute.mute),
        ("unmute", mute.unmute),
        ("muted", mute.muted),
        ("timezone", settings.timezone_command),
        ("quiet", settings.quiet_command),
        ("channels", channels.channels),
        ("export", export_import.export_command),
        ("import", export_import.import_command),
    ):
        application.add_handler(CommandHandler(name, callback, filters=_NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(settings.settings_button, pattern=r"^cfg:"))
    application.add_handler(CallbackQueryHandler(search.search_page, pattern=r"^more:"))
    application.add_handler(CallbackQueryHandler(channels.channel_picked, pattern=r"^ch:"))
    application.add_handler(CallbackQueryHandler(export_import.import_button, pattern=r"^i:"))
    application.add_handler(
        CallbackQueryHandler(corrections.retract_button, pattern=f"^{corrections.PREFIX}")
    )
    # A file sent with `/import` as its caption (a caption is no command to CommandHandler).
    application.add_handler(
        MessageHandler(
            _NEW_MESSAGES
            & filters.Document.ALL
            & filters.CaptionRegex(export_import.CAPTION_COMMAND.pattern),
            export_import.import_caption,
        )
    )
    # Last: every other tap, including data this bot never issued, gets an answer here.
    application.add_handler(CallbackQueryHandler(buttons.button))

    # Before the unknown-command answer, which is what anyone but an admin gets for them.
    admin.register(application)
    application.add_handler(
        MessageHandler(_NEW_MESSAGES & filters.COMMAND, fallback.unknown_command)
    )
    application.add_handler(
        MessageHandler(
            _NEW_MESSAGES & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            fallback.plain_text,
        )
    )
    application.add_handler(
        TypeHandler(Update, usage.update_counter(COMMANDS, admin.ADMIN_COMMANDS)),
        group=usage.USAGE_GROUP,
    )
    application.add_error_handler(errors.on_error)
