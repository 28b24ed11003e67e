"""Telegram's flood limits on sending: about 30 messages a second overall, one a second to a
private chat, 20 a minute to a group or channel; beyond them the answer is 429 with
`retry_after`. Off until a test calls `enforce_limits`."""

from __future__ import annotations

import math
import time
from collections import deque

from bot.emulator.answers import ApiError
from bot.emulator.state import Chat, EmulatorState, Limits


class FloodLimits(EmulatorState):
    """enforce_limits, and the check and count sendMessage/sendPhoto make around each send."""

    def enforce_limits(
        self,
        *,
        per_second: float | None = 30,
        per_chat_interval: float | None = 1.0,
        group_per_minute: int | None = 20,
        jitter: float = 0.0,
    ) -> None:
        """Telegram's flood limits for sendMessage/sendPhoto; beyond them the answer is 429.

        `per_chat_interval` applies to private chats, `group_per_minute` to groups and channels,
        `per_second` to all messages together. Only accepted messages count. `jitter`: a
        message that arrives up to that many seconds early still passes, since a sender spacing
        its messages exactly cannot make them arrive exactly so spaced (a request's way from the
        sender varies by a few milliseconds, more on a loaded machine).
        """
        if jitter < 0:
            raise ValueError("jitter is a duration, at least 0")
        if per_second is None and per_chat_interval is None and group_per_minute is None:
            self._limits = None
            return
        self._limits = Limits(per_second, per_chat_interval, group_per_minute, jitter)

    @property
    def limits_enforced(self) -> bool:
        """True while enforce_limits() makes sends beyond Telegram's flood limits answer 429."""
        return self._limits is not None

    def _check_limits(self, chat: Chat) -> None:
        limits = self._limits
        if limits is None:
            return
        now = time.monotonic()
        waits: list[float] = []
        # Early arrivals within the jitter count as on time: each window ends that much sooner.
        early = limits.jitter
        if limits.per_second is not None:
            while self._accepted_times and self._accepted_times[0] <= now - 1.0 + early:
                self._accepted_times.popleft()
            if len(self._accepted_times) >= limits.per_second:
                waits.append(self._accepted_times[0] + 1.0 - now)
        if chat.type == "private" and limits.per_chat_interval is not None:
            last = self._chat_last_sent.get(chat.id)
            if last is not None and now - last < limits.per_chat_interval - early:
                waits.append(last + limits.per_chat_interval - now)
        if chat.type != "private" and limits.group_per_minute is not None:
            sent = self._group_sent.setdefault(chat.id, deque())
            while sent and sent[0] <= now - 60.0 + early:
                sent.popleft()
            if len(sent) >= limits.group_per_minute:
                waits.append(sent[0] + 60.0 - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _count_sent(self, chat: Chat) -> None:
        now = time.monotonic()
        self._accepted_times.append(now)
        self._chat_last_sent[chat.id] = now
        if chat.type != "private":
            self._group_sent.setdefault(chat.id, deque()).append(now)
