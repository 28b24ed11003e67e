"""Telegram's overall message limit, shared by deliveries and replies to commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.sender import retry_after_seconds

logger = logging.getLogger(__name__)

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


# A reply Telegram refuses with 429 goes again after the pause it asks for, so a reader who asked
# during a flood gets the answer late rather than never. A longer pause than this, or a third
# refusal, reaches the error handler.
REPLY_MAX_WAIT = 30.0
REPLY_ATTEMPTS = 3

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

    def take(self, count: int = 1) -> None:
        for _ in range(count):
            self._take_one()

    def _take_one(self) -> None:
        now = time.monotonic()
        self._next_slot = min(
            max(self._next_slot, now) + self._interval, now + max(MAX_DEBT, self._interval)
        )


class SendReports:
    """Tells the other instances how many replies this one sent (Store.report_sends), so that
    the leader's deliveries make room for them as for its own: Telegram's limit is the bot's,
    not the process's. The replies of one moment go in one report, after they went out; a
    report that fails is logged and forgotten (the leader's pace has its margin)."""

    def __init__(
        self,
        instance: str,
        report: Callable[[str, int], Awaitable[None]],
        *,
        wanted: Callable[[], bool],
    ) -> None:
        self._instance = instance
        self._report = report
        # False while this instance leads: its engine counts its replies itself.
        self._wanted = wanted
        self._unreported = 0
        self._task: asyncio.Task[None] | None = None

    def count(self) -> None:
        if not self._wanted():
            return
        self._unreported += 1
        if self._task is None:
            self._task = asyncio.create_task(self._send(), name="tagwire-report-sends")

    async def _send(self) -> None:
        try:
            while self._unreported:
                # The replies of this moment, counted while the report was being sent too.
                await asyncio.sleep(0)
                count, self._unreported = self._unreported, 0
                try:
                    await self._report(self._instance, count)
                except Exception as exc:
                    logger.debug("could not report %d sends: %s", count, exc)
        finally:
            self._task = None

    async def stop(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class ReplyAccounting(BaseRateLimiter[str]):
    """Counts the bot's replies against the shared budget without delaying them, and sends a
    reply again when Telegram answers 429; deliveries (sent with rate_limit_args="delivery")
    are counted and retried by the engine itself. With several instances, `reports` tells
    the others of each reply (bot/instance.py)."""

    def __init__(self, budget: SendBudget) -> None:
        self._budget = budget
        self.reports: SendReports | None = None

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
        if rate_limit_args == DELIVERY:
            return await callback(*args, **kwargs)
        counted = endpoint.lower() in MESSAGE_METHODS
        attempt = 1
        while True:
            if counted:
                self._budget.take()
                if self.reports is not None:
                    self.reports.count()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                pause = retry_after_seconds(exc)
                if attempt >= REPLY_ATTEMPTS or pause > REPLY_MAX_WAIT:
                    raise
                logger.info("Telegram asks to wait %.0f s before %s; waiting", pause, endpoint)
                await asyncio.sleep(pause)
                attempt += 1
