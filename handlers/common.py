"""Small pieces every handler needs: replying, the chat's language, who may change a group."""

from __future__ import annotations

import logging
import re

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.context import TagwireContext
from bot.texts import DEFAULT_LANGUAGE

logger = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")


def language_of(update: Update) -> str:
    """The language replies use; English until readers can choose."""
    return DEFAULT_LANGUAGE


def command_argument(update: Update) -> str:
    """The text after `/command` or `/command@bot`, spaces and newlines kept inside."""
    message = update.effective_message
    if message is None or message.text is None:
        return ""
    return _COMMAND.sub("", message.text, count=1).strip()


async def reply(
    update: Update, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=reply_markup,
        link_preview_options=NO_PREVIEW,
    )


async def edit(
    query: CallbackQuery, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=reply_markup,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        # Two quick taps can ask for the same content twice; that is not an error.
        if "not modified" not in exc.message.lower():
            raise


async def edit_markup(query: CallbackQuery, reply_markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_reply_markup(reply_markup=reply_markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


def is_group(chat: Chat | None) -> bool:
    return chat is not None and chat.type in {ChatType.GROUP, ChatType.SUPERGROUP}


async def may_change_subscriptions(update: Update, context: TagwireContext) -> bool:
    """Anyone in a private chat; in a group, only its administrators (anonymous ones too)."""
    chat = update.effective_chat
    if not is_group(chat):
        return True
    assert chat is not None
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        # An anonymous admin writes as the group itself.
        return message.sender_chat.id == chat.id
    user = update.effective_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        logger.warning("could not check admin rights in chat %s: %s", chat.id, exc)
        return False
    return member.status in {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
