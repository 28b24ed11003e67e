"""Knowing which chats exist and are reachable, without a database write per update."""

from __future__ import annotations

import time

from storage.base import Store

# A chat seen within this many seconds is not written again on its next update.
_REFRESH_AFTER = 600.0


class ChatRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: dict[int, float] = {}

    async def seen(self, chat_id: int, chat_type: str, title: str | None) -> None:
        """A chat talked to the bot: record it and, if it had gone away, mark it active again."""
        now = time.monotonic()
        last = self._seen.get(chat_id)
        if last is not None and now - last < _REFRESH_AFTER:
            return
        await self._store.register_chat(chat_id, chat_type, title)
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
