"""Faults: what a test arms to make the emulator answer like Telegram on a bad day, and how a
call meets them.

Chat-level faults (blocked, deactivated, kicked, deleted, migrated) are checked where a method
resolves its chat (`EmulatorState._chat_for`); `fail_next` rules, random faults and the offline
switch by the HTTP dispatch (`server`) around the method. Flood limits are in `limits`.
"""

from __future__ import annotations

import random
import time

from bot.emulator.answers import ApiError, DropConnection, JSONDict
from bot.emulator.state import Chat, FailRule, HeldCall, RandomFaults
from bot.emulator.updates import UpdateMethods

_STATUS_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    420: "Flood",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Faults(UpdateMethods):
    """Fault injection; built on the update queue because migrate() can queue service messages."""

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends to the chat answer 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends answer 403 "user is deactivated"."""
        self._deactivated.add(user_id)

    def kick(self, chat_id: int) -> None:
        """The bot was removed from the group or channel: every call about it answers 403."""
        if chat_id > 0:
            self.block(chat_id)
        else:
            self._kicked.add(chat_id)

    def unkick(self, chat_id: int) -> None:
        self._kicked.discard(chat_id)

    def delete_chat(self, chat_id: int) -> None:
        """The chat no longer exists: calls answer 400 "chat not found"."""
        self._deleted.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int, *, notify: bool = False) -> None:
        """The group became the supergroup `new_chat_id`; the old id answers 400 with
        `migrate_to_chat_id`. With `notify`, queues the two service messages Telegram sends."""
        if not str(new_chat_id).startswith("-100"):
            raise ValueError("supergroup ids look like -100xxxxxxxxxx")
        old = self._chats.get(chat_id)
        if new_chat_id not in self._chats:
            self._chats[new_chat_id] = Chat(
                id=new_chat_id,
                type="supergroup",
                title=old.title if old else "Group",
                owner=old.owner if old else None,
                admins=set(old.admins) if old else set(),
                members=set(old.members) if old else set(),
            )
        self._migrated[chat_id] = new_chat_id
        if notify:
            now = int(time.time())
            new = self._chats[new_chat_id]
            old_chat = old.as_chat() if old else {"id": chat_id, "type": "group", "title": "Group"}
            actor = next(iter(sorted({*new.admins, *new.members} - {self.bot_id})), None)
            sender = self._users.get(actor) if actor is not None else None
            first: JSONDict = {
                "message_id": self._take_message_id(chat_id),
                "date": now,
                "chat": old_chat,
                "migrate_to_chat_id": new_chat_id,
            }
            second: JSONDict = {
                "message_id": self._take_message_id(new_chat_id),
                "date": now,
                "chat": new.as_chat(),
                "sender_chat": new.as_chat(),
                "migrate_from_chat_id": chat_id,
            }
            if sender is not None:
                first["from"] = dict(sender)
                second["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
            self.add_update({"message": first})
            self.add_update({"message": second})

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> None:
        """The next `count` calls of `method` (optionally only about `chat_id`) fail.

        An empty description picks Telegram's usual one for the status; 429 answers carry
        `retry_after` (default 1); status 0 drops the connection instead of answering.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        self._fail_rules.append(
            FailRule(
                method=method.lower(),
                status=status,
                description=description,
                retry_after=retry_after,
                migrate_to_chat_id=migrate_to_chat_id,
                chat_id=chat_id,
                remaining=count,
            )
        )

    def hold(self, method: str, *, chat_id: int | str | None = None) -> HeldCall:
        """The next call of `method` (optionally only about `chat_id`) waits, before it is
        handled, until the test releases it: a request in flight for as long as the test needs,
        e.g. to kill the bot meanwhile. `arrived` turns True when the call starts waiting;
        `release()` lets it be handled, `release(drop=True)` drops its connection unhandled.
        stop() drops every call still held."""
        held = HeldCall(method=method.lower(), chat_id=chat_id)
        self._holds.append(held)
        return held

    def clear_faults(self) -> None:
        """Forgets fail_next rules, random faults, flood limits, offline mode and holds that
        caught no call yet."""
        self._fail_rules.clear()
        self._holds = [held for held in self._holds if held.arrived]
        self._faults = None
        self._limits = None
        self._offline = False

    def set_random_faults(
        self,
        *,
        p429: float = 0,
        p502: float = 0,
        preset: float = 0,
        max_latency: float = 0,
        seed: int | None = None,
        include_get_updates: bool = False,
        lost_answer: float = 0,
        retry_after: tuple[int, int] = (1, 1),
    ) -> None:
        """Random 429s, 502s, dropped connections (`preset`) and extra latency for soak tests.

        `lost_answer`: the request takes effect (a message is sent) but the connection drops
        before the answer, as when a reset hits on the way back; such calls are recorded with
        status 0 and `{"answer_lost": True}`. A random 429 asks to retry after a whole number
        of seconds drawn from `retry_after` (inclusive). getUpdates is spared unless
        `include_get_updates`, so polling keeps its rhythm.
        """
        for name, value in (
            ("p429", p429),
            ("p502", p502),
            ("preset", preset),
            ("lost_answer", lost_answer),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability between 0 and 1")
        if not 1 <= retry_after[0] <= retry_after[1]:
            raise ValueError("retry_after is a range of whole seconds, at least 1")
        self._random = random.Random(seed)
        if not (p429 or p502 or preset or max_latency or lost_answer):
            self._faults = None
            return
        self._faults = RandomFaults(
            p429, p502, preset, max_latency, include_get_updates, lost_answer, retry_after
        )

    def set_offline(self, offline: bool) -> None:
        """While offline every request gets its connection dropped, as if Telegram were down.

        A getUpdates already waiting loses its connection too.
        """
        self._offline = offline
        if offline:
            self._updates_signal.notify()

    def is_blocked(self, chat_id: int) -> bool:
        """True while the user of this private chat has the bot blocked."""
        return chat_id in self._blocked

    def is_kicked(self, chat_id: int) -> bool:
        """True while the bot is out of this group or channel."""
        return chat_id in self._kicked

    # ---------------------------------------------------------------- the dispatch's checks

    async def _wait_if_held(self, method: str, params: JSONDict) -> None:
        """Waits while a hold() rule keeps this call; DropConnection when released with drop."""
        for held in self._holds:
            if held.arrived or held.method != method:
                continue
            if held.chat_id is not None and params.get("chat_id") != held.chat_id:
                continue
            held.arrived = True
            held.params = params
            while not held.released and not self._stopping:
                await held.signal.wait(None)
            self._holds.remove(held)
            if held.drop or not held.released:
                raise DropConnection
            return

    def _release_holds(self) -> None:
        """stop(): every call still held loses its connection (uvicorn waits for them)."""
        for held in self._holds:
            if held.arrived and not held.released:
                held.release(drop=True)

    def _apply_fail_rules(self, method: str, params: JSONDict) -> None:
        for rule in self._fail_rules:
            if rule.method != method:
                continue
            if rule.chat_id is not None and params.get("chat_id") != rule.chat_id:
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._fail_rules.remove(rule)
            if rule.status == 0:
                raise DropConnection
            parameters: JSONDict = {}
            description = rule.description or _STATUS_DESCRIPTIONS.get(rule.status, "Error")
            if rule.status == 429:
                retry_after = rule.retry_after if rule.retry_after is not None else 1
                parameters["retry_after"] = retry_after
                description = rule.description or f"Too Many Requests: retry after {retry_after}"
            elif rule.retry_after is not None:
                parameters["retry_after"] = rule.retry_after
            if rule.migrate_to_chat_id is not None:
                parameters["migrate_to_chat_id"] = rule.migrate_to_chat_id
            raise ApiError(rule.status, description, parameters or None)

    async def _random_fault(self, faults: RandomFaults) -> None:
        """Waits the call's random extra latency, then raises the fault it draws, if any."""
        if faults.max_latency > 0:
            await self._sleep(self._random.uniform(0, faults.max_latency))
        roll = self._random.random()
        if roll < faults.preset:
            raise DropConnection
        if roll < faults.preset + faults.p502:
            raise ApiError(502, "Bad Gateway")
        if roll < faults.preset + faults.p502 + faults.p429:
            low, high = faults.retry_after
            wait = low if low == high else self._random.randint(low, high)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def _lose_answer(self, faults: RandomFaults) -> None:
        """Drops the answer of a call that took effect, as often as `lost_answer` says."""
        if faults.lost_answer > 0 and self._random.random() < faults.lost_answer:
            raise DropConnection(handled=True)
