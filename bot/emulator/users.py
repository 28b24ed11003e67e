"""What users do, turned into the updates Telegram would send the bot: writing a message,
pressing an inline button, adding, promoting, removing or blocking the bot."""

from __future__ import annotations

import time

from bot.emulator.answers import JSONDict
from bot.emulator.chats import ChatMethods
from bot.emulator.entities import detect_spans, spans_to_entities
from bot.emulator.updates import UpdateMethods


class UserActions(UpdateMethods, ChatMethods):
    """send_text, press_button and set_bot_status: the tests' side of a conversation."""

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user types `text` in a chat; returns the Update. Commands get a bot_command entity.

        In a channel the text arrives as a channel_post signed by the channel, not the user.
        """
        message, kind = self._user_message(
            chat_id, user_id, text, message_thread_id, reply_to_message_id
        )
        entities = spans_to_entities(text, detect_spans(text, []))
        if entities:
            message["entities"] = entities
        return self._post_user_message(message, kind)

    def _post_user_message(self, message: JSONDict, kind: str) -> JSONDict:
        self._user_messages.setdefault(message["chat"]["id"], {})[message["message_id"]] = message
        return self.add_update({kind: message})

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        message_thread_id: int | None,
        reply_to_message_id: int | None,
    ) -> tuple[JSONDict, str]:
        """A user's message in a chat (without entities) and the kind of update it comes in."""
        user = self._ensure_user(user_id)
        chat = self._chat_for_user_message(chat_id, user_id)
        message: JSONDict = {
            "message_id": self._take_message_id(chat.id),
            "from": dict(user),
            "chat": chat.as_chat(),
            "date": int(time.time()),
            "text": text,
        }
        if chat.type == "channel":
            del message["from"]
            message["sender_chat"] = chat.as_chat()
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if reply_to_message_id is not None:
            replied = self._find_message(chat.id, reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        return message, "channel_post" if chat.type == "channel" else "message"

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "document.json",
        mime_type: str = "application/json",
        caption: str | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user sends a file (its bytes kept for getFile), with a caption, which gets a
        bot_command entity when it starts with a command; returns the Update."""
        message, kind = self._user_message(
            chat_id, user_id, "", message_thread_id, reply_to_message_id
        )
        del message["text"]
        message["document"] = self._store_file(data, file_name, mime_type)
        if caption:
            message["caption"] = caption
            entities = spans_to_entities(caption, detect_spans(caption, []))
            if entities:
                message["caption_entities"] = entities
        return self._post_user_message(message, kind)

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        *,
        caption: str | None = None,
        size: int = 48_000,
        message_thread_id: int | None = None,
    ) -> JSONDict:
        """A user sends a photo (its sizes' file_ids usable by sendPhoto), with a caption,
        which gets a bot_command entity when it starts with a command; returns the Update."""
        message, kind = self._user_message(chat_id, user_id, "", message_thread_id, None)
        del message["text"]
        message["photo"] = self._photo_sizes(f"u{chat_id}_{message['message_id']}", size)
        if caption:
            message["caption"] = caption
            entities = spans_to_entities(caption, detect_spans(caption, []))
            if entities:
                message["caption_entities"] = entities
        return self._post_user_message(message, kind)

    def press_button(self, chat_id: int, user_id: int, message_id: int, data: str) -> JSONDict:
        """A user presses an inline button with callback `data` under the bot's message."""
        user = self._ensure_user(user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chat_for_user_message(chat_id, user_id)
        elif chat.type != "private" and user_id not in chat.admins and user_id != chat.owner:
            chat.members.add(user_id)
        message = self._bot_messages.get(chat_id, {}).get(message_id)
        if message is None:
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat.as_chat(),
                "from": self.bot_user,
            }
        self._next_callback += 1
        query_id = str(4_000_000_000_000_000_000 + self._next_callback * 7919)
        self._callback_queries[query_id] = False
        query: JSONDict = {
            "id": query_id,
            "from": dict(user),
            "message": message,
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**19),
            "data": data,
        }
        return self.add_update({"callback_query": query})

    def set_bot_status(
        self,
        chat_id: int,
        by_user_id: int,
        new_status: str,
        *,
        old_status: str = "left",
    ) -> JSONDict:
        """Queues a my_chat_member update (the bot added, promoted, removed or blocked).

        "kicked" also kicks (groups) or blocks (private chats); "member" or "administrator"
        lifts that again.
        """
        user = self._ensure_user(by_user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = (
                self._private_chat(chat_id)
                if chat_id > 0
                else self._chat_for_user_message(chat_id, by_user_id)
            )
        if new_status == "kicked":
            (self._blocked if chat.type == "private" else self._kicked).add(chat_id)
        elif new_status in ("member", "administrator"):
            self._blocked.discard(chat_id)
            self._kicked.discard(chat_id)
            if new_status == "administrator":
                chat.admins.add(self.bot_id)
            else:
                chat.admins.discard(self.bot_id)
        update = {
            "my_chat_member": {
                "chat": chat.as_chat(),
                "from": dict(user),
                "date": int(time.time()),
                "old_chat_member": self._member_dict(chat, self.bot_id, old_status),
                "new_chat_member": self._member_dict(chat, self.bot_id, new_status),
            }
        }
        return self.add_update(update)
