"""What tests read back: every call the bot made, the messages it sent, waiting for them, and
the event stream (`subscribe`) the sandbox page and the benchmarks listen to."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict

from bot.emulator.answers import ApiCall, JSONDict
from bot.emulator.state import EmulatorState, Listener

# Named for the package, as before it was split, so log filters and captures keep matching.
_log = logging.getLogger("bot.emulator")


class Records(EmulatorState):
    """The emulator's log of calls and sent messages, and its listeners."""

    def calls_of(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Messages the bot sent successfully (as answered at the time), oldest first."""
        if chat_id is None:
            return list(self._sent)
        return [message for message in self._sent if message["chat"]["id"] == chat_id]

    def messages_in(self, chat_id: int) -> dict[int, JSONDict]:
        """The bot's messages in a chat as they are now (edits applied, deletions removed)."""
        return dict(self._bot_messages.get(chat_id, {}))

    def reply_texts(self, chat_id: int) -> list[str]:
        return [
            str(message.get("text", message.get("caption", "")))
            for message in self.sent_messages(chat_id)
        ]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for polling local state, not I/O
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"condition not met within {timeout:g}s; {self._describe_recent_calls()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for polling local state, not I/O
    ) -> list[JSONDict]:
        def enough() -> bool:
            return sum(1 for m in self._sent if m["chat"]["id"] == chat_id) >= count

        try:
            await self.wait_for(enough, timeout)
        except TimeoutError:
            have = len(self.sent_messages(chat_id))
            raise TimeoutError(
                f"expected {count} message(s) in chat {chat_id} within {timeout:g}s, got {have}; "
                f"{self._describe_recent_calls()}"
            ) from None
        return self.sent_messages(chat_id)

    def _describe_recent_calls(self, limit: int = 15) -> str:
        recent = self.calls[-limit:]
        if not recent:
            return "the bot made no API calls"
        lines = [f"last {len(recent)} of {len(self.calls)} call(s):"]
        for call in recent:
            params = json.dumps(call.params, ensure_ascii=False, default=str)
            if len(params) > 160:
                params = params[:157] + "..."
            outcome = "dropped" if call.status == 0 else str(call.status)
            if call.status not in (0, 200):
                outcome += f" {call.response.get('description', '')}"
            lines.append(f"  {call.method} {params} -> {outcome}")
        return "\n".join(lines)

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Calls `callback(kind, payload)` synchronously for every event; returns unsubscribe.

        Kinds: "call" (an ApiCall as a dict), "update" (a queued update) and "webhook"
        ({"update_id", "status"} for each delivery attempt).
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, payload: JSONDict) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:
                _log.exception("an emulator listener failed on %s", kind)

    def _record(self, call: ApiCall) -> None:
        # Long polls finish late; keeping `calls` in arrival order makes it read like a log.
        bisect.insort(self.calls, call, key=lambda c: c.at)
        if self._listeners:
            self._emit("call", asdict(call))
