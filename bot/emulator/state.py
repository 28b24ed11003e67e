"""What the emulator remembers: the bot, users, chats and their members, messages, queued
updates, armed faults, and the lookups every Bot API method starts with.

`EmulatorState` holds all of it; the method families (`messages`, `chats`, `updates`,
`profile`...) are mixins on top of it, so each reads and changes the same attributes.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.answers import ApiCall, ApiError, JSONDict
from bot.web.server import LocalServer, Signal

Listener = Callable[[str, JSONDict], None]


@dataclass
class FailRule:
    """A fail_next() rule: the next `remaining` calls of `method` fail this way."""

    method: str
    status: int
    description: str
    retry_after: int | None
    migrate_to_chat_id: int | None
    chat_id: int | str | None
    remaining: int


@dataclass
class HeldCall:
    """A hold() rule, then the call it caught: that call waits, before it is handled, until
    `release()`; `arrived` is True from the moment it waits."""

    method: str
    chat_id: int | str | None
    arrived: bool = False
    released: bool = False
    drop: bool = False
    params: JSONDict | None = None
    signal: Signal = field(default_factory=Signal, repr=False)

    def release(self, *, drop: bool = False) -> None:
        """Lets the call go on: handled as usual, or with `drop` its connection dropped
        unhandled (nothing is sent), as Telegram does with a request whose client has gone."""
        self.drop = drop
        self.released = True
        self.signal.notify()


@dataclass(frozen=True)
class Limits:
    """The flood limits enforce_limits() set; None turns one off."""

    per_second: float | None
    per_chat_interval: float | None
    group_per_minute: int | None
    jitter: float = 0.0


@dataclass(frozen=True)
class RandomFaults:
    """What set_random_faults() armed."""

    p429: float
    p502: float
    preset: float
    max_latency: float
    include_get_updates: bool
    lost_answer: float = 0.0
    retry_after: tuple[int, int] = (1, 1)


@dataclass
class Chat:
    """A chat the bot is in; `as_chat()` is the Chat object that goes into messages."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    owner: int | None = None
    admins: set[int] = field(default_factory=set)
    members: set[int] = field(default_factory=set)

    def as_chat(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.title is not None:
            chat["title"] = self.title
        if self.username is not None:
            chat["username"] = self.username
        if self.first_name is not None:
            chat["first_name"] = self.first_name
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.is_forum:
            chat["is_forum"] = True
        return chat


class EmulatorState:
    """The state behind the emulator, and setting up the users and chats a test starts with."""

    def __init__(
        self,
        *,
        token: str,
        bot_id: int,
        bot_username: str,
        bot_first_name: str,
        latency: float,
        reject_bare_ampersand: bool,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.latency = latency
        # Telegram keeps an `&` that starts no entity as text; rejecting it by default catches
        # texts that were never escaped, which would break on the first `<`.
        self.reject_bare_ampersand = reject_bare_ampersand

        self.calls: list[ApiCall] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.webhook: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_deliveries: list[tuple[int, int]] = []
        self.callback_answers: dict[str, JSONDict] = {}

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, Chat] = {}
        self._blocked: set[int] = set()
        self._deactivated: set[int] = set()
        self._kicked: set[int] = set()
        self._deleted: set[int] = set()
        self._migrated: dict[int, int] = {}

        self._bot_messages: dict[int, dict[int, JSONDict]] = {}
        self._user_messages: dict[int, dict[int, JSONDict]] = {}
        self._next_message_id: dict[int, int] = {}
        self._sent: list[JSONDict] = []
        self._callback_queries: dict[str, bool] = {}
        # Files sent by the bot or by users, by file_id: their bytes and their Document.
        self._files: dict[str, tuple[bytes, JSONDict]] = {}
        # The file_ids of every photo size sent (by users or the bot): sendPhoto takes them.
        self._photo_ids: set[str] = set()
        # Hosts whose pictures Telegram could not fetch, and how sendPhoto says so (besides
        # every host under .invalid, which never resolves).
        self.photo_refusals: dict[str, str] = {}
        self._next_callback = 0

        self._pending: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._active_polls = 0

        self._webhook_max_connections = 40
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._full_commands: dict[str, list[JSONDict]] = {}

        self._fail_rules: list[FailRule] = []
        self._holds: list[HeldCall] = []
        self._limits: Limits | None = None
        self._accepted_times: deque[float] = deque()
        self._chat_last_sent: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._faults: RandomFaults | None = None
        self._random = random.Random()
        self._offline = False

        self._listeners: list[Listener] = []
        self._transports: dict[tuple[str, int], asyncio.Transport] = {}
        self._answering = 0
        self._updates_signal = Signal()
        self._stop_signal = Signal()
        self._stopping = False
        self._server: LocalServer | None = None

    @property
    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Reader",
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> JSONDict:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is not None:
            chat.first_name, chat.last_name, chat.username = first_name, last_name, username
        return dict(user)

    def add_group(
        self,
        chat_id: int,
        *,
        title: str = "Group",
        supergroup: bool = False,
        admins: Iterable[int] = (),
        members: Iterable[int] = (),
        is_forum: bool = False,
        owner: int | None = None,
        username: str | None = None,
    ) -> JSONDict:
        """Adds a group the bot is a member of. Put `bot_id` in `admins` to make it an admin."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        supergroup = supergroup or is_forum or username is not None
        if supergroup and not str(chat_id).startswith("-100"):
            raise ValueError("supergroup ids look like -100xxxxxxxxxx")
        chat = Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=is_forum,
            owner=owner,
            admins=set(admins),
            members=set(members),
        )
        self._register_chat(chat)
        return chat.as_chat()

    def add_channel(
        self,
        chat_id: int,
        *,
        title: str,
        username: str | None = None,
        admins: Iterable[int] = (),
        owner: int | None = None,
    ) -> JSONDict:
        """Adds a channel; the bot is one of its administrators and may post."""
        if not str(chat_id).startswith("-100"):
            raise ValueError("channel ids look like -100xxxxxxxxxx")
        chat = Chat(
            id=chat_id,
            type="channel",
            title=title,
            username=username,
            owner=owner,
            admins={*admins, self.bot_id},
        )
        self._register_chat(chat)
        return chat.as_chat()

    def chat(self, chat_id: int) -> JSONDict | None:
        """The Chat object the emulator would put in messages, or None for an unknown chat."""
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.as_chat()

    def _register_chat(self, chat: Chat) -> None:
        for user_id in {*chat.admins, *chat.members, *([chat.owner] if chat.owner else [])}:
            if user_id != self.bot_id and user_id not in self._users:
                self.add_user(user_id)
        self._chats[chat.id] = chat
        self._deleted.discard(chat.id)
        self._kicked.discard(chat.id)

    def _ensure_user(self, user_id: int) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            self.add_user(user_id)
            user = self._users[user_id]
        return user

    def _private_chat(self, user_id: int) -> Chat:
        chat = self._chats.get(user_id)
        if chat is None:
            user = self._ensure_user(user_id)
            chat = Chat(
                id=user_id,
                type="private",
                first_name=user["first_name"],
                last_name=user.get("last_name"),
                username=user.get("username"),
            )
            self._chats[user_id] = chat
        return chat

    def _chat_for_user_message(self, chat_id: int, user_id: int) -> Chat:
        if chat_id > 0:
            if chat_id != user_id:
                raise ValueError("a private chat's id is the user's id")
            # Writing to a bot is how a user unblocks it.
            self._blocked.discard(user_id)
            return self._private_chat(user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            supergroup = str(chat_id).startswith("-100")
            self.add_group(chat_id, title="Group", supergroup=supergroup)
            chat = self._chats[chat_id]
        if chat.type != "channel" and user_id not in chat.admins and user_id != chat.owner:
            chat.members.add(user_id)
        return chat

    def _take_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store_file(self, data: bytes, file_name: str, mime_type: str) -> JSONDict:
        """Keeps a file's bytes; returns its Document (file_id, file_unique_id, name, size)."""
        serial = len(self._files) + 1
        document: JSONDict = {
            "file_id": f"BQACAgEmu{serial:06d}d",
            "file_unique_id": f"AgEmu{serial:06d}d",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        self._files[document["file_id"]] = (data, document)
        return dict(document)

    def _photo_sizes(self, serial: str, size: int) -> list[JSONDict]:
        """A photo as Telegram stores it, in two sizes, their file_ids usable again."""
        sizes: list[JSONDict] = [
            {
                "file_id": f"AgACAgEmu{serial}s",
                "file_unique_id": f"AQEmu{serial}s",
                "width": 90,
                "height": 60,
                "file_size": max(size // 20, 1),
            },
            {
                "file_id": f"AgACAgEmu{serial}m",
                "file_unique_id": f"AQEmu{serial}m",
                "width": 1280,
                "height": 853,
                "file_size": max(size, 1),
            },
        ]
        self._photo_ids.update(str(item["file_id"]) for item in sizes)
        return sizes

    def file_bytes(self, file_id: str) -> bytes | None:
        """The bytes of a file sent by the bot or a user, or None for an unknown file_id."""
        found = self._files.get(file_id)
        return None if found is None else found[0]

    def _find_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        found = self._bot_messages.get(chat_id, {}).get(message_id)
        return found or self._user_messages.get(chat_id, {}).get(message_id)

    # ---------------------------------------------------------------- chat resolution

    def _resolve_chat_id(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            text = raw.strip()
            if re.fullmatch(r"-?\d+", text):
                return int(text)
            if text.startswith("@"):
                wanted = text[1:].lower()
                for chat in self._chats.values():
                    if chat.username is not None and chat.username.lower() == wanted:
                        return chat.id
        raise ApiError(400, "Bad Request: chat not found")

    def _chat_for(self, params: JSONDict, *, sending: bool) -> Chat:
        """The chat a method is about, or the error Telegram answers about it.

        `sending` adds the errors for a user who blocked the bot or deleted their account.
        """
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat_id = self._resolve_chat_id(raw)
        if chat_id in self._deleted:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        chat = self._chats.get(chat_id)
        if chat is None and chat_id in self._users:
            chat = self._private_chat(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._kicked:
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if sending and chat.type == "private":
            if chat_id in self._deactivated:
                raise ApiError(403, "Forbidden: user is deactivated")
            if chat_id in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    async def _sleep(self, seconds: float) -> None:
        """Sleeps, cut short by stop(): uvicorn waits for open requests before it stops."""
        if seconds > 0 and not self._stopping:
            await self._stop_signal.wait(seconds)
