"""Start-up calls to Telegram (getMe, deleteWebhook, setWebhook), retried while Telegram is
unreachable or asks to wait, so a restart during an outage starts once Telegram is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram.error import NetworkError, RetryAfter

from bot.delivery.sender import retry_after_seconds

logger = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


async def until_telegram_answers(
    call: Callable[[], Awaitable[object]], stop: asyncio.Event, *, doing: str
) -> bool:
    """`call` again and again while Telegram is unreachable (a network error, a 5xx) or asks
    to wait (429), pausing twice as long each time up to a minute; False when asked to stop
    meanwhile. Other errors are the caller's. `doing` names the call in the log lines."""
    delay = FIRST_PAUSE
    while True:
        try:
            await call()
            return True
        except RetryAfter as exc:
            pause = max(delay, retry_after_seconds(exc))
            logger.warning(
                "Telegram asks to wait (%s) while %s; retrying in %.0f s", exc, doing, pause
            )
        except NetworkError as exc:
            pause = delay
            logger.warning(
                "cannot reach Telegram (%s) while %s; retrying in %.0f s", exc, doing, pause
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
            return False
        except TimeoutError:
            delay = min(LONGEST_PAUSE, delay * 2)
