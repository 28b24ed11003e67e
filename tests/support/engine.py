"""The delivery engine without Telegram: a sender that records (or refuses) what it is given,
stories published into a store's outbox, and the engine run until a condition holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.error import BadRequest

from bot.delivery.config import DeliveryConfig
from bot.delivery.engine import DeliveryEngine
from bot.emulator import MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, parse_html, utf16_length
from storage.base import Store
from storage.models import PendingDelivery
from tests.conftest import make_article


def fast_config(**overrides: Any) -> DeliveryConfig:
    """A DeliveryConfig that polls the outbox and writes outcomes every few hundredths of a
    second, at 200 messages a second; `overrides` sets the spacing and the rest."""
    values: dict[str, Any] = {"rate_limit": 200, "poll_interval": 0.05, "flush_interval": 0.02}
    return DeliveryConfig(**{**values, **overrides})


def telegram_refusal(text: str) -> str | None:
    """What Telegram would answer 400 to this HTML message, as the emulator parses it: markup
    it cannot parse, an empty text, or more than 4096 UTF-16 units of text; None when fine."""
    try:
        plain, _ = parse_html(text)
    except ValueError as exc:
        return f"Bad Request: can't parse entities: {exc}"
    if not plain.strip():
        return "Bad Request: message text is empty"
    if utf16_length(plain) > MAX_TEXT_LENGTH:
        return "Bad Request: message is too long"
    return None


@dataclass(frozen=True)
class Call:
    """One send_message call: when it started and ended, and the error it raised (None when
    the message was accepted)."""

    chat_id: int
    started: float
    ended: float
    error: Exception | None


@dataclass
class FakeSender:
    """Accepts what Telegram would accept (valid HTML within 4096 UTF-16 units; the rest is
    refused with BadRequest and kept in `refused`), after `latency`, unless a failure is queued
    for the chat (`failures`) or `fail_all` returns one. Every call is kept in `calls`; each
    accepted message gets the next message id. Photos are kept in `photos` (chat, photo,
    caption), not in `sent`; a photo in `bad_photos` is refused as Telegram refuses a URL it
    cannot fetch."""

    latency: float = 0.0
    sent: list[tuple[int, str, float]] = field(default_factory=list)
    failures: dict[int, list[Exception]] = field(default_factory=dict)
    fail_all: Callable[[], Exception | None] | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    calls: list[Call] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    photos: list[tuple[int, str, str]] = field(default_factory=list)
    # Texts sent with a picture as a large preview above them: (chat, picture).
    previews: list[tuple[int, str]] = field(default_factory=list)
    bad_photos: set[str] = field(default_factory=set)
    message_ids: int = 0

    async def send_photo(
        self, chat_id: int, photo: str, caption: str, *, thread_id: int | None = None
    ) -> int | None:
        if photo in self.bad_photos:
            raise BadRequest("Bad Request: failed to get HTTP URL content")
        refusal = telegram_refusal(caption)
        if refusal is not None or utf16_length(parse_html(caption)[0]) > MAX_CAPTION_LENGTH:
            self.refused.append(caption)
            raise BadRequest(refusal or "Bad Request: message caption is too long")
        self.photos.append((chat_id, photo, caption))
        self.message_ids += 1
        return self.message_ids

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        link_preview: bool = True,
        thread_id: int | None = None,
        picture: str | None = None,
    ) -> int | None:
        started = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        error: Exception | None = None
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.fail_all is not None and (failure := self.fail_all()) is not None:
                raise failure
            queued = self.failures.get(chat_id)
            if queued:
                raise queued.pop(0)
            refusal = telegram_refusal(text)
            if refusal is not None:
                self.refused.append(text)
                raise BadRequest(refusal)
            self.sent.append((chat_id, text, time.monotonic()))
            if picture is not None:
                self.previews.append((chat_id, picture))
            self.message_ids += 1
            return self.message_ids
        except Exception as exc:
            error = exc
            raise
        finally:
            self.in_flight -= 1
            self.calls.append(Call(chat_id, started, time.monotonic(), error))

    def to(self, chat_id: int) -> list[str]:
        return [text for chat, text, _ in self.sent if chat == chat_id]

    def failed_calls(self, chat_id: int | None = None) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.error is not None and (chat_id is None or call.chat_id == chat_id)
        ]


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = ""
) -> None:
    """Until `condition` (a function, or a coroutine function) holds; fails after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"not within {within} s: {what or condition}"
        await asyncio.sleep(0.01)


async def run_until(engine: DeliveryEngine, done: Callable[[], bool], within: float = 10.0) -> None:
    engine.start()
    try:
        await wait_until(done, within, "delivery did not finish in time")
    finally:
        await engine.stop()


async def nothing_pending(store: Store) -> bool:
    """True when every delivery has its outcome written: nothing is left to send."""
    return (await store.stats()).deliveries_pending == 0


async def run_until_settled(
    engine: DeliveryEngine,
    store: Store,
    done: Callable[[], bool] = lambda: True,
    within: float = 10.0,
) -> None:
    """Run until `done` holds and the outbox has nothing pending (every outcome written, so
    nothing more will be sent), then stop: counts read afterwards are final."""

    async def settled() -> bool:
        return done() and await nothing_pending(store)

    engine.start()
    try:
        await wait_until(settled, within, "the outbox did not settle in time")
    finally:
        await engine.stop()


class Claims:
    """Counts the engine's looks at the outbox (the store's claim_due, wrapped on the
    instance), so a test can wait until the engine has looked again since a change, and has
    done what that look found (a look ends before the next one starts)."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self.now: list[float] = []
        original = store.claim_due

        async def claim_due(now: float, *args: Any, **kwargs: Any) -> list[PendingDelivery]:
            claimed = await original(now, *args, **kwargs)
            self.now.append(now)
            self.count += 1
            return claimed

        setattr(store, "claim_due", claim_due)  # noqa: B010 - on this instance only

    async def looked_again(self, within: float = 10.0) -> None:
        """Until the engine has looked at the outbox since this call and done what it found:
        three more looks, as one may have begun before the call, the next began after it, and
        the one after that began once the next one's deliveries were held or sent."""
        target = self.count + 3
        await wait_until(lambda: self.count >= target, within, "the engine's next claims")


async def publish(store: Store, *stories: tuple[int, list[str]]) -> None:
    await store.add_articles(
        [make_article(number, tags) for number, tags in stories], notify=True, now=time.time()
    )
