"""Telegram's overall message limit, shared by deliveries and replies to commands."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter

DELIVERY = "delivery"
# The methods that count against Telegram's messages-per-second limit.
MESSAGE_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvideo",
        "sendanimation",
        "sendaudio",
        "sendvoice",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
    }
)


# Telegram's limits are per second: slots taken by replies beyond this much ahead are
# forgotten, so a storm of replies holds deliveries back for a second at most after it ends.
MAX_DEBT = 1.0


class SendBudget:
    """Evenly spaced send slots at `rate` a second. Deliveries wait for a slot; a reply to a
    reader goes out at once but takes a slot, so the deliveries after it make room."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_slot = 0.0

    @property
    def next_slot(self) -> float:
        """The monotonic time of the next free slot."""
        return self._next_slot

    def take(self) -> None:
        now = time.monotonic()
        self._next_slot = min(
            max(self._next_slot, now) + self._interval, now + max(MAX_DEBT, self._interval)
        )


class ReplyAccounting(BaseRateLimiter[str]):
    """Counts the bot's replies against the shared budget without delaying them; deliveries
    (sent with rate_limit_args="delivery") are counted by the engine itself."""

    def __init__(self, budget: SendBudget) -> None:
        self._budget = budget

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if rate_limit_args != DELIVERY and endpoint.lower() in MESSAGE_METHODS:
            self._budget.take()
        return await callback(*args, **kwargs)
