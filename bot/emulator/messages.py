"""The Bot API methods about messages: sendMessage, sendPhoto, editMessageText,
editMessageCaption, editMessageReplyMarkup, deleteMessage (within 48 hours of sending),
answerCallbackQuery and sendChatAction, with Telegram's limits on texts, captions and inline
keyboards."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from bot.emulator.answers import ApiError, JSONDict
from bot.emulator.entities import normalize_url, utf16_length
from bot.emulator.formatting import parse_text
from bot.emulator.limits import FloodLimits
from bot.emulator.params import flag, opt_int, opt_str, req_int
from bot.emulator.state import Chat

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# What sendPhoto answers for a picture Telegram cannot use: a string that is neither a known
# file_id nor an http(s) URL, and a URL it could not fetch.
WRONG_PHOTO = "Bad Request: wrong file identifier/HTTP URL specified"
UNFETCHABLE_PHOTO = "Bad Request: failed to get HTTP URL content"

# Telegram lets a bot delete its messages for everyone within 48 hours of sending them.
DELETE_WINDOW = 48 * 3600
CANNOT_DELETE = "Bad Request: message can't be deleted for everyone"

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class MessageMethods(FloodLimits):
    """The bot's messages: sending, editing and deleting them, and answering button presses."""

    def _check_markup(self, params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            # Reply keyboards and keyboard removals are not part of the returned Message.
            return None
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                "InlineKeyboardButton must be an Object",
            )
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button: text")
                if len(button) < 2:
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and (not isinstance(url, str) or normalize_url(url) is None):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
        return markup

    def _new_message(self, chat: Chat, params: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self._take_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.as_chat(),
        }
        if chat.type == "channel":
            message["sender_chat"] = chat.as_chat()
        else:
            message["from"] = self.bot_user
        thread_id = opt_int(params, "message_thread_id")
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        reply_to = params.get("reply_parameters")
        reply_id = (
            opt_int(reply_to, "message_id")
            if isinstance(reply_to, dict)
            else opt_int(params, "reply_to_message_id")
        )
        if reply_id is not None:
            replied = self._find_message(chat.id, reply_id)
            lenient = flag(params, "allow_sending_without_reply") or (
                isinstance(reply_to, dict) and reply_to.get("allow_sending_without_reply") is True
            )
            if replied is None and not lenient:
                raise ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
        if flag(params, "protect_content"):
            message["has_protected_content"] = True
        return message

    def _store_sent(self, chat: Chat, message: JSONDict) -> None:
        self._bot_messages.setdefault(chat.id, {})[message["message_id"]] = message
        self._sent.append(message)
        self._count_sent(chat)

    def _format_text(
        self, params: JSONDict, *, for_edit: bool = False
    ) -> tuple[str, list[JSONDict]]:
        raw = params.get("text")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text, entities = parse_text(
            raw,
            params.get("parse_mode"),
            params.get("entities"),
            reject_bare_ampersand=self.reject_bare_ampersand,
            users=self._users,
        )
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_length(text) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        return text, entities

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=True)
        text, entities = self._format_text(params)
        markup = self._check_markup(params)
        self._check_limits(chat)
        message = self._new_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        preview = params.get("link_preview_options")
        if isinstance(preview, dict):
            message["link_preview_options"] = preview
        if markup is not None:
            message["reply_markup"] = markup
        self._store_sent(chat, message)
        return message

    def _caption(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        """A media message's caption and its entities, as Telegram parses and limits them."""
        caption, entities = parse_text(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            reject_bare_ampersand=self.reject_bare_ampersand,
            users=self._users,
        )
        if utf16_length(caption) > MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        return caption, entities

    def refuse_photos_from(self, host: str, description: str = UNFETCHABLE_PHOTO) -> None:
        """sendPhoto refuses a picture URL on `host` (and its subdomains) as Telegram refuses
        one it cannot fetch. Hosts under .invalid are always refused so."""
        self.photo_refusals[host.lower()] = description

    def _check_photo(self, photo: str) -> None:
        """Refuse a picture as Telegram would: a file_id it never issued, a URL that is not
        http(s), a URL on a host it cannot reach (the emulator fetches nothing)."""
        if "://" not in photo:
            if photo not in self._photo_ids:
                raise ApiError(400, WRONG_PHOTO)
            return
        try:
            parts = urlsplit(photo)
            host = (parts.hostname or "").lower()
        except ValueError:
            raise ApiError(400, WRONG_PHOTO) from None
        if parts.scheme.lower() not in {"http", "https"} or not host:
            raise ApiError(400, WRONG_PHOTO)
        for refused, description in self.photo_refusals.items():
            if host == refused or host.endswith("." + refused):
                raise ApiError(400, description)
        if host == "invalid" or host.endswith(".invalid"):
            raise ApiError(400, UNFETCHABLE_PHOTO)

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=True)
        photo = params.get("photo")
        if photo is None or photo == "":
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if isinstance(photo, str):
            self._check_photo(photo)
        caption, entities = self._caption(params)
        markup = self._check_markup(params)
        self._check_limits(chat)
        message = self._new_message(chat, params)
        size = photo.get("file_size", 0) if isinstance(photo, dict) else 0
        message["photo"] = self._photo_sizes(f"{chat.id}_{message['message_id']}", size)
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._store_sent(chat, message)
        return message

    def _message_to_edit(self, params: JSONDict) -> tuple[Chat, JSONDict]:
        if params.get("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat_for(params, sending=True)
        message_id = req_int(
            params, "message_id", "Bad Request: message identifier is not specified"
        )
        message = self._bot_messages.get(chat.id, {}).get(message_id)
        if message is None:
            if message_id in self._user_messages.get(chat.id, {}):
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat, message

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        chat, current = self._message_to_edit(params)
        text, entities = self._format_text(params)
        markup = self._check_markup(params)
        if "text" not in current:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if (
            current.get("text") == text
            and current.get("entities", []) == entities
            and current.get("reply_markup") == markup
        ):
            raise ApiError(400, _NOT_MODIFIED)
        edited = {k: v for k, v in current.items() if k not in ("entities", "reply_markup")}
        edited["text"] = text
        edited["edit_date"] = int(time.time())
        if entities:
            edited["entities"] = entities
        if markup is not None:
            edited["reply_markup"] = markup
        preview = params.get("link_preview_options")
        if isinstance(preview, dict):
            edited["link_preview_options"] = preview
        self._bot_messages[chat.id][edited["message_id"]] = edited
        return edited

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        chat, current = self._message_to_edit(params)
        markup = self._check_markup(params)
        if current.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if markup is not None:
            edited["reply_markup"] = markup
        self._bot_messages[chat.id][edited["message_id"]] = edited
        return edited

    async def _edit_message_caption(self, params: JSONDict) -> JSONDict:
        chat, current = self._message_to_edit(params)
        caption, entities = self._caption(params)
        markup = self._check_markup(params)
        if "photo" not in current and "document" not in current:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        if (
            current.get("caption", "") == caption
            and current.get("caption_entities", []) == entities
            and current.get("reply_markup") == markup
        ):
            raise ApiError(400, _NOT_MODIFIED)
        edited = {
            k: v
            for k, v in current.items()
            if k not in ("caption", "caption_entities", "reply_markup")
        }
        if caption:
            edited["caption"] = caption
        if entities:
            edited["caption_entities"] = entities
        if markup is not None:
            edited["reply_markup"] = markup
        edited["edit_date"] = int(time.time())
        self._bot_messages[chat.id][edited["message_id"]] = edited
        return edited

    def age_message(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Make a message `seconds` older (its `date`), as if sent that long before: past
        48 hours Telegram no longer lets the bot delete it for everyone."""
        message = self._find_message(chat_id, message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        message["date"] = int(message["date"] - seconds)

    async def _delete_message(self, params: JSONDict) -> bool:
        chat = self._chat_for(params, sending=True)
        message_id = req_int(
            params, "message_id", "Bad Request: message identifier is not specified"
        )
        own = self._bot_messages.get(chat.id, {}).get(message_id)
        if own is not None and time.time() - own["date"] > DELETE_WINDOW:
            raise ApiError(400, CANNOT_DELETE)
        for store in (self._bot_messages, self._user_messages):
            if store.get(chat.id, {}).pop(message_id, None) is not None:
                return True
        raise ApiError(400, "Bad Request: message to delete not found")

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = opt_str(params, "callback_query_id") or ""
        if self._callback_queries.get(query_id) is not False:
            raise ApiError(400, _QUERY_INVALID)
        text = opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": flag(params, "show_alert"),
            "url": opt_str(params, "url"),
        }
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat_for(params, sending=True)
        if opt_str(params, "action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True
