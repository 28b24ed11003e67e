"""Small pieces every handler needs: replying, the chat's language, who may change a group."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

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
from bot.delivery.sender import post_message
from bot.texts.cut import cut_html
from bot.texts.plain import cut_at_word

logger = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram's limit for the text a tap is answered with (a toast or an alert), in characters.
ALERT_LIMIT = 200
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")


async def language_of(update: Update, context: TagwireContext) -> str:
    """The language replies use: the chat's choice, else the user's Telegram language."""
    chat = update.effective_chat
    user = update.effective_user
    return await context.chats.language(
        chat.id if chat is not None else None, user.language_code if user else None
    )


@dataclass(frozen=True, slots=True)
class Target:
    """Where follows apply and stories go: a chat, or one forum topic of it."""

    chat_id: int
    thread_id: int = 0


def target_of(update: Update) -> Target | None:
    """The chat of the update, narrowed to the forum topic a message was written in."""
    chat = update.effective_chat
    if chat is None:
        return None
    message = update.effective_message
    thread_id = 0
    if (
        message is not None
        and chat.is_forum
        and message.is_topic_message
        and message.message_thread_id is not None
    ):
        thread_id = message.message_thread_id
    return Target(chat.id, thread_id)


def command_argument(update: Update) -> str:
    """The text after `/command` or `/command@bot`, spaces and newlines kept inside."""
    message = update.effective_message
    if message is None or message.text is None:
        return ""
    return _COMMAND.sub("", message.text, count=1).strip()


async def reply(
    update: Update, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answer in the message's chat (and forum topic), quoting the command in a group, as
    Message.reply_text does, but without parsing Telegram's answer into a Message: with
    hundreds of readers asking at once, that parsing was most of a command's CPU."""
    message = update.effective_message
    if message is None:
        return
    values: dict[str, object] = {
        "chat_id": message.chat_id,
        # Whatever a reply quotes or lists, it fits in one message (Telegram refuses more).
        "text": cut_html(text),
        "parse_mode": ParseMode.HTML.value,
        "link_preview_options": {"is_disabled": True},
    }
    if message.chat.type != ChatType.PRIVATE:
        # The command may be deleted before the answer is sent; answer all the same.
        values["reply_parameters"] = {
            "message_id": message.message_id,
            "allow_sending_without_reply": True,
        }
    _in_its_topic(message, values)
    if reply_markup is not None:
        values["reply_markup"] = reply_markup.to_dict()
    await post_message(message.get_bot(), values, reply=True)


async def reply_photo(update: Update, photo: str, caption: str) -> bool:
    """A photo with its caption (Telegram HTML) in the message's chat and topic; False when
    Telegram refuses the picture (a URL it cannot fetch, a file that is no image), so that
    the caller answers with text instead."""
    message = update.effective_message
    if message is None:
        return False
    values: dict[str, object] = {
        "chat_id": message.chat_id,
        "photo": photo,
        "caption": caption,
        "parse_mode": ParseMode.HTML.value,
    }
    _in_its_topic(message, values)
    try:
        await post_message(message.get_bot(), values, reply=True, method="sendPhoto")
    except BadRequest:
        return False
    return True


def _in_its_topic(message: Message, values: dict[str, object]) -> None:
    """An answer to a message in a forum topic goes to that topic."""
    if message.is_topic_message and message.message_thread_id is not None:
        values["message_thread_id"] = message.message_thread_id


def alert(text: str) -> str:
    """A tap's answer within Telegram's limit, whatever name it quotes (a channel's title
    may take 128 characters)."""
    return cut_at_word(text, ALERT_LIMIT)


async def edit(
    query: CallbackQuery, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await query.edit_message_text(
            cut_html(text),
            parse_mode=ParseMode.HTML,
            reply_markup=reply_markup,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        if not _nothing_to_redraw(exc):
            raise


async def edit_markup(query: CallbackQuery, reply_markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_reply_markup(reply_markup=reply_markup)
    except BadRequest as exc:
        if not _nothing_to_redraw(exc):
            raise


# Two quick taps can ask for the same content twice; a button can outlive its message (deleted
# meanwhile, or too old to edit). The tap itself was answered; there is just nothing to redraw.
_NOTHING_TO_REDRAW = ("not modified", "message to edit not found", "message can't be edited")


def _nothing_to_redraw(error: BadRequest) -> bool:
    return any(marker in error.message.lower() for marker in _NOTHING_TO_REDRAW)


def admins_only(chat: Chat | None) -> str:
    """The key of the answer to a tap by someone who may not change this chat."""
    if chat is not None and chat.type == ChatType.CHANNEL:
        return "button_channel_admins_only"
    return "button_admins_only"


async def may_change_subscriptions(update: Update, context: TagwireContext) -> bool:
    """Anyone in a private chat; in a group, only its administrators (anonymous ones too);
    in a channel (a button under one of its posts), only its administrators."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if update.callback_query is None and message is not None and message.sender_chat is not None:
        # An anonymous admin writes as the group itself. (A tap's message is the one the
        # button is under, whoever sent it: it says nothing about who tapped.)
        return chat.type != ChatType.CHANNEL and message.sender_chat.id == chat.id
    user = update.effective_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        logger.warning("could not check admin rights in chat %s: %s", chat.id, exc)
        return False
    return member.status in {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
