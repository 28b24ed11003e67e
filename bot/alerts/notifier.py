"""Sending alerts to the admins: straight to each admin's private chat (not through the outbox),
within Telegram's limits, and kept for later when Telegram cannot take them just now.

A message goes through the Bot, so python-telegram-bot's rate limiter (ReplyAccounting,
bot/delivery/ratelimit.py) counts it against the overall send budget the deliveries share and
sends it again after a 429, as it does a reply; messages to one admin are spaced by
TAGWIRE_PRIVATE_CHAT_INTERVAL. A message Telegram could not take (unreachable, 5xx, a 429 past
the limiter's patience) waits, in order, and is sent again at the next look while Telegram
answers; one it refuses for good (the admin never started the bot or blocked it, a 400) is
dropped. Either way one line is logged (Telegram's reason, never the token).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode

from bot.alerts.notices import Notice, compose
from bot.delivery.sender import FailureKind, classify

logger = logging.getLogger(__name__)

# Messages kept for one admin while Telegram cannot take them; the oldest go beyond.
MAX_WAITING = 20
# Seconds an alert's request may take (connect, write, read): a stalled Telegram must not hold
# up the next look for long.
SEND_TIMEOUT = 10.0
# Kinds of failure after which the same message may go through later.
_LATER = frozenset({FailureKind.TRANSIENT, FailureKind.RATE_LIMITED})


@dataclass
class _Waiting:
    text: str
    incidents: str
    tries: int = 0


class AdminNotifier:
    def __init__(
        self,
        bot: Bot,
        admin_ids: Collection[int],
        languages: Callable[[], Awaitable[Mapping[int, str]]],
        *,
        spacing: float,
    ) -> None:
        self._bot = bot
        self._admins = sorted(admin_ids)
        self._languages = languages
        self._spacing = spacing
        self._waiting: dict[int, deque[_Waiting]] = {admin: deque() for admin in self._admins}
        # Notices added and not yet put into a message.
        self._fresh: list[Notice] = []
        self._next_at: dict[int, float] = {}

    @property
    def waiting(self) -> int:
        """Messages (and notices not yet in one) not delivered yet, over all admins."""
        return len(self._fresh) + sum(len(queue) for queue in self._waiting.values())

    def add(self, notice: Notice) -> None:
        """A notice for every admin, sent at the next flush with the others added meanwhile
        (one message per admin for all of them)."""
        self._fresh.append(notice)

    async def announce(self, notices: Sequence[Notice]) -> None:
        """Add these notices and send."""
        for notice in notices:
            self.add(notice)
        await self.flush()

    async def flush(self) -> None:
        """Put the notices added since the last flush into one message per admin, in the
        admin's language, after what waits already; then send what waits, each admin's in
        order, stopping at an admin's first message that must wait again."""
        if self._fresh:
            languages = await self._languages()
            notices, self._fresh = self._fresh, []
            incidents = ", ".join(dict.fromkeys(notice.incident for notice in notices))
            for admin in self._admins:
                queue = self._waiting[admin]
                queue.append(_Waiting(compose(notices, languages.get(admin, "en")), incidents))
                while len(queue) > MAX_WAITING:
                    dropped = queue.popleft()
                    logger.warning(
                        "alert (%s) to admin %s not delivered: too many alerts wait; dropped",
                        dropped.incidents,
                        admin,
                    )
        for admin in self._admins:
            queue = self._waiting[admin]
            while queue:
                if not await self._send(admin, queue[0]):
                    break
                queue.popleft()

    def abandon(self) -> None:
        """Stopping: log each message that never went out, then forget them."""
        for notice in self._fresh:
            logger.warning("alert (%s) not delivered before stopping", notice.incident)
        self._fresh.clear()
        for admin, queue in self._waiting.items():
            for message in queue:
                logger.warning(
                    "alert (%s) to admin %s not delivered before stopping",
                    message.incidents,
                    admin,
                )
            queue.clear()

    async def _send(self, admin: int, message: _Waiting) -> bool:
        """True when the message is done with: delivered, or refused for good."""
        wait = self._next_at.get(admin, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        message.tries += 1
        try:
            await self._bot.send_message(
                chat_id=admin,
                text=message.text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                read_timeout=SEND_TIMEOUT,
                write_timeout=SEND_TIMEOUT,
                connect_timeout=SEND_TIMEOUT,
                pool_timeout=SEND_TIMEOUT,
            )
        except Exception as exc:
            failure = classify(exc)
            if failure.kind in _LATER:
                if message.tries == 1:
                    logger.warning(
                        "alert (%s) to admin %s not delivered (%s); it is sent again when "
                        "Telegram takes it",
                        message.incidents,
                        admin,
                        failure.description,
                    )
                return False
            logger.warning(
                "alert (%s) to admin %s not delivered (%s); dropped%s",
                message.incidents,
                admin,
                failure.description,
                ": the admin has not started a private chat with the bot, or blocked it"
                if failure.kind is FailureKind.CHAT_GONE
                else "",
            )
            return True
        finally:
            self._next_at[admin] = time.monotonic() + self._spacing
        if message.tries > 1:
            logger.info(
                "alert (%s) delivered to admin %s at try %d",
                message.incidents,
                admin,
                message.tries,
            )
        return True
