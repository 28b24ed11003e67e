"""Knowing which chats exist and are reachable, and how each wants its news, without a
database round trip per update."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES
from storage.base import Store
from storage.models import ChatSettings

# A chat seen within this many seconds is not written again on its next update.
_REFRESH_AFTER = 600.0


def language_from_code(language_code: str | None) -> str:
    """Telegram's `language_code` of a user (`ru`, `ru-RU`, `en-GB`) as a supported language."""
    base = (language_code or "").split("-")[0].casefold()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


class ChatRegistry:
    def __init__(
        self, store: Store, on_settings_changed: Callable[[int], None] | None = None
    ) -> None:
        self._store = store
        self.on_settings_changed = on_settings_changed
        self._seen: dict[int, float] = {}
        self._settings: dict[int, ChatSettings] = {}

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
            self._settings.setdefault(chat_id, known.settings)
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
        if cached is None:
            prefs = await self._store.chat_prefs([chat_id])
            cached = prefs[chat_id].settings if chat_id in prefs else ChatSettings()
            self._settings[chat_id] = cached
        return cached

    async def save_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Save the settings; stories held for the old schedule are looked at again."""
        await self._store.save_chat_settings(chat_id, settings)
        self._settings[chat_id] = settings
        if self.on_settings_changed is not None:
            self.on_settings_changed(chat_id)

    async def language(self, chat_id: int | None, language_code: str | None) -> str:
        """The chat's chosen language, else the user's own."""
        if chat_id is not None:
            chosen = (await self.settings(chat_id)).language
            if chosen:
                return chosen
        return language_from_code(language_code)
