"""One user may not flood the bot: a sliding window of commands per minute per user."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    # True once per flood, so the user hears why they are ignored but is not answered each time.
    tell: bool = False
    retry_in: float = 0.0


class CommandThrottle:
    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._recent: dict[int, deque[float]] = {}
        self._told: set[int] = set()
        self._last_sweep = 0.0

    def check(self, user_id: int, now: float) -> Verdict:
        self._sweep(now)
        recent = self._recent.setdefault(user_id, deque())
        while recent and now - recent[0] >= WINDOW:
            recent.popleft()
        if len(recent) < self._per_minute:
            recent.append(now)
            self._told.discard(user_id)
            return Verdict(allowed=True)
        tell = user_id not in self._told
        self._told.add(user_id)
        return Verdict(allowed=False, tell=tell, retry_in=WINDOW - (now - recent[0]))

    def _sweep(self, now: float) -> None:
        # Forget users quiet for a whole window, so memory follows the active users only.
        if now - self._last_sweep < WINDOW:
            return
        self._last_sweep = now
        idle = [
            user for user, times in self._recent.items() if not times or now - times[-1] >= WINDOW
        ]
        for user in idle:
            del self._recent[user]
            self._told.discard(user)
