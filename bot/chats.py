"""Knowing which chats exist and are reachable, and how each wants its news, without a
database round trip per update."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES
from storage.base import Store
from storage.models import ChatSettings

# A chat seen within this many seconds is not written again on its next update.
_REFRESH_AFTER = 600.0
# How long a chat's settings are taken from memory when other processes share the database
# (several instances on PostgreSQL): a setting changed through another instance is seen here
# after at most this long, and a change is always made on the settings as stored.
SHARED_SETTINGS_FOR = 2.0


def language_from_code(language_code: str | None) -> str:
    """Telegram's `language_code` of a user (`ru`, `ru-RU`, `en-GB`) as a supported language."""
    base = (language_code or "").split("-")[0].casefold()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


class ChatRegistry:
    def __init__(
        self,
        store: Store,
        on_settings_changed: Callable[[int], None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.on_settings_changed = on_settings_changed
        self._clock = clock
        # Alone with its database (SQLite's file lease), this process makes every change of
        # settings, so what it holds is never stale.
        self._settings_for = SHARED_SETTINGS_FOR if store.shared else math.inf
        self._seen: dict[int, float] = {}
        # Each chat's settings and when they were read.
        self._settings: dict[int, tuple[ChatSettings, float]] = {}

    async def seen(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        """A chat talked to the bot: record it and, if it had gone away, mark it active again.
        A new chat starts in the language of the user who wrote first."""
        now = time.monotonic()
        last = self._seen.get(chat_id)
        if last is not None and now - last < _REFRESH_AFTER:
            return
        # The chat and its settings in one read, which the command that follows usually needs.
        known = (await self._store.chat_prefs([chat_id])).get(chat_id)
        # A read does not wait for another process's write lock (a long `tagwire push`), so a
        # chat the database already has as it is can ask for /latest meanwhile.
        if (
            known is None
            or not known.active
            or (known.type, known.title, known.username) != (chat_type, title, username)
        ):
            language = language_from_code(language_code) if language_code else None
            await self._store.register_chat(chat_id, chat_type, title, username, language)
        else:
            self._settings[chat_id] = (known.settings, self._clock())
        self._seen[chat_id] = now

    async def gone(self, chat_id: int, reason: str) -> None:
        """The bot was blocked, kicked or removed: stop sending there, keep the subscriptions."""
        self.forget(chat_id)
        await self._store.deactivate_chat(chat_id, reason, time.time())

    async def moved(self, old_chat_id: int, new_chat_id: int) -> None:
        self.forget(old_chat_id)
        self.forget(new_chat_id)
        await self._store.migrate_chat(old_chat_id, new_chat_id)

    def forget(self, chat_id: int) -> None:
        self._seen.pop(chat_id, None)
        self._settings.pop(chat_id, None)

    async def settings(self, chat_id: int) -> ChatSettings:
        cached = self._settings.get(chat_id)
        if cached is not None and self._clock() - cached[1] < self._settings_for:
            return cached[0]
        return await self._read_settings(chat_id)

    async def _read_settings(self, chat_id: int) -> ChatSettings:
        prefs = await self._store.chat_prefs([chat_id])
        settings = prefs[chat_id].settings if chat_id in prefs else ChatSettings()
        self._settings[chat_id] = (settings, self._clock())
        return settings

    async def change_settings(
        self, chat_id: int, change: Callable[[ChatSettings], ChatSettings | None]
    ) -> ChatSettings | None:
        """Apply `change` to the chat's settings and save the result (None: nothing to save).
        With other processes on the database, the change is made on the settings as stored,
        not on a copy in memory that another instance may have changed since."""
        current = await (
            self._read_settings(chat_id) if self._store.shared else self.settings(chat_id)
        )
        changed = change(current)
        if changed is not None:
            await self.save_settings(chat_id, changed)
        return changed

    async def save_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Save the settings; stories held for the old schedule are looked at again."""
        await self._store.save_chat_settings(chat_id, settings)
        self._settings[chat_id] = (settings, self._clock())
        if self.on_settings_changed is not None:
            self.on_settings_changed(chat_id)

    async def language(self, chat_id: int | None, language_code: str | None) -> str:
        """The chat's chosen language, else the user's own."""
        if chat_id is not None:
            chosen = (await self.settings(chat_id)).language
            if chosen:
                return chosen
        return language_from_code(language_code)
