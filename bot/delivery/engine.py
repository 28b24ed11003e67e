"""The delivery engine: drains the durable outbox at Telegram's limits, fair between chats.

A delivery row stays `pending` until Telegram has accepted the message, so a crash repeats at
most the messages in flight and the few whose success was not yet written (one flush period).
Requests overlap (up to `max_in_flight`), so the overall rate holds when each call is slow.

Each chat has a lane: its claimed deliveries in order and the earliest time it may receive
again. A lane sends one message at a time: a teaser, or several stories in one message when
they were held for a digest (hourly, daily, quiet hours) or more than three wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.delivery.compose import Digest, Message, Stories, digest_kind, render_combined
from bot.delivery.config import DeliveryConfig
from bot.delivery.ratelimit import SendBudget
from bot.delivery.schedule import release_time
from bot.delivery.sender import Failure, FailureKind, Sender, classify
from bot.texts.replies import DEFAULT_LANGUAGE
from storage.base import StorageUnavailable, Store
from storage.models import (
    SKIPPED_MUTED,
    SKIPPED_RETRACTED,
    Article,
    ChatPrefs,
    ChatSettings,
    DeliveryMode,
    DeliveryStatus,
    DeliveryUpdate,
    PendingDelivery,
)

logger = logging.getLogger(__name__)

GROUP_TYPES = frozenset({"group", "supergroup", "channel"})
# Network errors in a row, with no success between them, that mean Telegram is unreachable.
OUTAGE_AFTER_FAILURES = 3
# More stories than this waiting for one chat at once go out as one message.
BURST_THRESHOLD = 3
# Deliveries of one digest held in memory at once; a larger digest continues in a next message.
DIGEST_QUEUE = 200
# Seconds before a chat whose end (blocked, migrated) could not be written is tried again.
STORAGE_RETRY = 5.0


@dataclass
class _Lane:
    """One chat: its deliveries in order and the earliest time it may receive again."""

    chat_id: int
    interval: float
    prefs: ChatPrefs
    queue: deque[PendingDelivery] = field(default_factory=deque)
    ready_at: float = 0.0
    busy: bool = False
    scheduled_at: float | None = None


@dataclass
class DeliveryCounters:
    sent: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    # Photos Telegram refused (a picture it could not fetch): their stories went out as text.
    pictures_refused: int = 0

    def count_failure(self, kind: FailureKind) -> None:
        self.failed[kind.value] = self.failed.get(kind.value, 0) + 1


class Companion(Protocol):
    """A worker that sends beside the engine and starts and stops with it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def mutes(article: Article, words: Sequence[str]) -> bool:
    """True when a muted word (or phrase) stands as a whole word in the title or teaser."""
    text = f"{article.title}\n{article.teaser}".casefold()
    return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) for word in words)


class DeliveryEngine:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        config: DeliveryConfig,
        *,
        on_sent: Callable[[PendingDelivery], None] | None = None,
        on_failure: Callable[[PendingDelivery, Failure], None] | None = None,
        on_chat_gone: Callable[[int], None] | None = None,
        budget: SendBudget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._sender = sender
        self._config = config
        self._on_sent = on_sent
        self._on_failure = on_failure
        self._on_chat_gone = on_chat_gone
        self._budget = budget or SendBudget(config.rate_limit)
        self._clock = clock
        self.counters = DeliveryCounters()
        # Workers that send beside the engine, started and stopped with it (bot/delivery/edits).
        self._companions: list[Companion] = []
        self._reset()

    def _reset(self) -> None:
        """The state of one run: a stopped engine starts again from here (an instance that
        leads again after a spell as a follower)."""
        self._lanes: dict[int, _Lane] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._sequence = itertools.count()
        self._queued = 0
        self._claimed_ids: set[int] = set()
        self._stories = Stories()
        # Outcomes a stop could not write (the database was away) are kept for the next run,
        # which writes them before it claims anything: a send Telegram accepted is not repeated.
        self._results: list[DeliveryUpdate] = list(getattr(self, "_results", []))
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self._config.max_in_flight)
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._stopping = False
        self._stopped = False
        self._paused_until = 0.0
        self._outage_backoff = 0.0
        self._failures_in_a_row = 0
        self._outage_began = 0.0
        self._storage_lock = asyncio.Lock()
        # Why the database refused the engine's last write, until one succeeds (logged once).
        self._storage_trouble: str | None = None
        self._runner: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._settle = 0.0

    # Control

    def wake(self) -> None:
        """New deliveries were queued in this process: look at the outbox now."""
        self._wake.set()

    def start(self, *, settle: float = 0.0) -> None:
        """Start sending; after `settle` seconds when another process may have sent until a
        moment ago (a new leader waits out the per-chat spacing of the one it replaces)."""
        if self._stopped:
            self._reset()
        self._settle = settle
        self._runner = asyncio.create_task(self._run(), name="tagwire-delivery")
        self._flusher = asyncio.create_task(self._flush_loop(), name="tagwire-delivery-flush")
        for companion in self._companions:
            companion.start()

    def attach(self, companion: Companion) -> None:
        """Start and stop `companion` with the engine (the edits of delivered teasers)."""
        self._companions.append(companion)

    def withdraw(self, article_id: int) -> None:
        """The story was retracted: what the engine holds of it is not sent (skipped), nor
        anything it claims later."""
        self._stories.withdraw(article_id)
        for lane in self._lanes.values():
            kept = [d for d in lane.queue if d.article_id != article_id]
            if len(kept) == len(lane.queue):
                continue
            for delivery in lane.queue:
                if delivery.article_id == article_id:
                    self._finish(
                        delivery, DeliveryStatus.SKIPPED, SKIPPED_RETRACTED, delivery.attempts
                    )
            self._queued -= len(lane.queue) - len(kept)
            lane.queue = deque(kept)

    def book_turn(self, chat_id: int, chat_type: str) -> float:
        """A turn in the chat's spacing for a message sent beside the engine (an edit): the
        monotonic time it may go, after which the chat's next send waits its interval."""
        lane = self._lane(chat_id, ChatPrefs(chat_id, chat_type, ChatSettings()))
        start = max(lane.ready_at, time.monotonic())
        lane.ready_at = start + lane.interval
        return start

    @property
    def budget(self) -> SendBudget:
        """The overall send budget (shared with the replies and the edits)."""
        return self._budget

    @property
    def paused_until(self) -> float:
        """Until when (monotonic) every send waits: a bot-wide 429, or Telegram unreachable."""
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Telegram asked a send beside the engine to wait `seconds` (a bot-wide 429)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def stop(self) -> None:
        """Finish the requests in flight, write every outcome, give back unsent claims."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping = True
        for companion in self._companions:
            await companion.stop()
        self._stop_requested.set()
        self._wake.set()
        if self._runner is not None:
            await self._runner
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=self._config.shutdown_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._flushed.set()
        if self._flusher is not None:
            await self._flusher
        try:
            await self._flush()
            await self._release_unsent()
        except StorageUnavailable as exc:
            logger.error(
                "stopping with %d delivery outcomes not written (%s): those messages may go "
                "out again at the next start",
                len(self._results),
                exc,
            )

    @property
    def queued(self) -> int:
        """Deliveries held in memory, waiting for their chat's turn."""
        return self._queued

    @property
    def unreachable_since(self) -> float | None:
        """Since when (Unix time) Telegram has looked unreachable to the sends: several
        network failures in a row and no success since; None otherwise (bot/alerts)."""
        if self._failures_in_a_row < OUTAGE_AFTER_FAILURES:
            return None
        return time.time() - (time.monotonic() - self._outage_began)

    def forget_chat_settings(self, chat_id: int) -> None:
        """A chat changed its settings: use the new ones from its next claim on."""
        lane = self._lanes.get(chat_id)
        if lane is not None and not lane.queue and not lane.busy:
            del self._lanes[chat_id]

    # Main loop

    async def _run(self) -> None:
        if self._settle > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), timeout=self._settle)
        while not self._stopping:
            try:
                await self._flush()
                released = await self._store.release_claims()
                break
            except StorageUnavailable as exc:
                self._storage_failed(exc)
                await asyncio.sleep(1.0)
        else:
            return
        if released:
            logger.info("resuming %d deliveries left in flight by the previous run", released)
        last_claim = float("-inf")
        while not self._stopping:
            try:
                now = time.monotonic()
                if self._queued < self._config.claim_batch // 2 and (
                    self._wake.is_set() or now - last_claim >= self._config.poll_interval
                ):
                    self._wake.clear()
                    try:
                        claimed = await self._refill()
                    except StorageUnavailable as exc:
                        # What is in memory goes on being sent; claiming waits for the database.
                        self._storage_failed(exc)
                        claimed = 0
                    last_claim = time.monotonic()
                    if claimed >= self._config.claim_batch:
                        # A full batch means more are due: claim again as soon as there is room.
                        last_claim = float("-inf")
                lane = self._next_ready_lane()
                if lane is None:
                    await self._idle(last_claim)
                    continue
                await self._dispatch(lane)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The outbox stays in the database; log, wait a little, and carry on.
                logger.exception("delivery loop error; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _idle(self, last_claim: float) -> None:
        now = time.monotonic()
        wait = self._config.poll_interval - (now - last_claim)
        if self._heap:
            wait = min(wait, self._heap[0][0] - now)
        wait = max(0.005, wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _next_ready_lane(self) -> _Lane | None:
        now = time.monotonic()
        while self._heap:
            ready_at, _, chat_id = self._heap[0]
            lane = self._lanes.get(chat_id)
            if lane is None or lane.scheduled_at != ready_at or lane.busy or not lane.queue:
                heapq.heappop(self._heap)
                continue
            if ready_at > now:
                return None
            heapq.heappop(self._heap)
            lane.scheduled_at = None
            return lane
        return None

    def _schedule(self, lane: _Lane) -> None:
        if lane.busy or not lane.queue:
            return
        lane.scheduled_at = lane.ready_at
        heapq.heappush(self._heap, (lane.ready_at, next(self._sequence), lane.chat_id))

    async def _dispatch(self, lane: _Lane) -> None:
        # Global spacing: never more than rate_limit sends (replies included) in any second.
        now = time.monotonic()
        start_at = max(self._budget.next_slot, self._paused_until)
        if start_at > now:
            lane.busy = True
            try:
                # A long pause (a flood 429) must not hold up stop().
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), start_at - now)
            finally:
                lane.busy = False
            now = time.monotonic()
            if self._paused_until > now or self._stopping:
                # A global 429 arrived while waiting: this lane goes back in line.
                self._schedule(lane)
                return
        if self._failures_in_a_row >= OUTAGE_AFTER_FAILURES and self._in_flight:
            # Telegram looks unreachable: one send at a time probes it, the others wait for
            # its outcome instead of piling up requests that will time out.
            self._schedule(lane)
            await asyncio.wait(
                set(self._in_flight),
                timeout=self._config.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
            return
        await self._slots.acquire()
        if self._stopping or not lane.queue:
            self._slots.release()
            self._schedule(lane)
            return
        lane.busy = True
        try:
            message = await self._compose(lane)
        except BaseException:
            lane.busy = False
            self._slots.release()
            self._schedule(lane)
            raise
        now = time.monotonic()
        self._budget.take()
        lane.ready_at = now + lane.interval
        task = asyncio.create_task(self._send(lane, message))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    # Composing messages

    async def _compose(self, lane: _Lane) -> Message:
        """Take the next message off the lane: a digest, a burst of stories, or one teaser."""
        head = lane.queue[0]
        run: list[PendingDelivery] = []
        for delivery in lane.queue:
            if delivery.thread_id != head.thread_id or delivery.held != head.held:
                break
            run.append(delivery)
        settings = lane.prefs.settings
        language = settings.language or DEFAULT_LANGUAGE
        combine = head.held or (
            settings.combine_bursts
            and settings.mode is DeliveryMode.INSTANT
            and len(run) > BURST_THRESHOLD
        )
        if combine:
            articles = [self._stories.get(d.article_id) for d in run]
            if all(article is not None for article in articles):
                digest = Digest(digest_kind(settings, held=head.held), language)
                followed = await self._store.followed_tags(lane.chat_id, head.thread_id)
                text, count = render_combined(
                    digest, [a for a in articles if a is not None], followed
                )
                if count > 1:
                    taken = tuple(self._take(lane, count))
                    return Message(taken, text, False, head.thread_id, digest=digest)
        (delivery,) = self._take(lane, 1)
        return self._stories.teaser_message(delivery, settings, language)

    def _take(self, lane: _Lane, count: int) -> list[PendingDelivery]:
        taken = [lane.queue.popleft() for _ in range(count)]
        self._queued -= count
        return taken

    # Sending and its outcomes

    async def _send(self, lane: _Lane, message: Message) -> None:
        try:
            try:
                if message.photo is None:
                    message_id = await self._sender.send_message(
                        lane.chat_id,
                        message.text,
                        link_preview=message.link_preview,
                        thread_id=message.thread_id or None,
                        picture=message.picture,
                    )
                else:
                    message_id = await self._send_photo(lane, message, message.photo)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._handle_failure(lane, message, classify(exc))
                return
            if self._failures_in_a_row >= OUTAGE_AFTER_FAILURES:
                logger.warning(
                    "Telegram is reachable again after %.0f s; delivering what waited",
                    time.monotonic() - self._outage_began,
                )
            self._failures_in_a_row = 0
            self._outage_backoff = 0.0
            for delivery in message.deliveries:
                self.counters.sent += 1
                self._finish(
                    delivery,
                    DeliveryStatus.SENT,
                    None,
                    message_id=message_id,
                    digest=message.digest,
                )
                if self._on_sent is not None:
                    self._on_sent(delivery)
        finally:
            self._slots.release()
            lane.busy = False
            self._schedule(lane)
            self._wake.set()

    async def _send_photo(self, lane: _Lane, message: Message, photo: str) -> int | None:
        """The photo; when Telegram refuses it (a URL it cannot fetch, not a picture, a file_id
        it does not know), the text teaser at once: no message was made, so the story goes
        out once, and is never lost to its picture. Any other error is the send's."""
        try:
            return await self._sender.send_photo(
                lane.chat_id, photo, message.caption, thread_id=message.thread_id or None
            )
        except Exception as exc:
            failure = classify(exc)
            if failure.kind is not FailureKind.REJECTED:
                raise
        article_id = message.deliveries[0].article_id
        self.counters.pictures_refused += 1
        if self._stories.refuse_picture(article_id):
            logger.warning(
                "Telegram refused the picture of story %s (%s): it goes out as text",
                article_id,
                failure.description,
            )
        # The text is a second request: it takes a slot of the overall budget too.
        self._budget.take()
        return await self._sender.send_message(
            lane.chat_id,
            message.text,
            link_preview=message.link_preview,
            thread_id=message.thread_id or None,
        )

    async def _handle_failure(self, lane: _Lane, message: Message, failure: Failure) -> None:
        self.counters.count_failure(failure.kind)
        if self._on_failure is not None:
            for delivery in message.deliveries:
                self._on_failure(delivery, failure)
        now = time.monotonic()
        if failure.kind is FailureKind.RATE_LIMITED:
            logger.warning(
                "429 for chat %s: waiting %.0f s before retrying", lane.chat_id, failure.retry_after
            )
            lane.ready_at = now + failure.retry_after
            for delivery in message.deliveries:
                self._note_attempt(delivery, failure.description)
            if lane.chat_id > 0:
                # Private chats are already held to one message a second, so a 429 there is
                # the bot-wide limit: everyone waits.
                self._paused_until = max(self._paused_until, now + failure.retry_after)
            self._requeue_front(lane, message.deliveries)
        elif failure.kind is FailureKind.CHAT_GONE:
            logger.info("chat %s is gone (%s): now inactive", lane.chat_id, failure.description)
            try:
                await self._drop_chat(lane, message, failure.description)
            except StorageUnavailable as exc:
                self._retry_when_stored(lane, message, exc)
        elif failure.kind is FailureKind.MIGRATED and failure.new_chat_id is not None:
            logger.info("chat %s moved to %s", lane.chat_id, failure.new_chat_id)
            try:
                await self._move_chat(lane, message, failure.new_chat_id)
            except StorageUnavailable as exc:
                self._retry_when_stored(lane, message, exc)
        elif failure.kind is FailureKind.REJECTED:
            logger.error(
                "Telegram rejected a message for chat %s (stories %s): %s",
                lane.chat_id,
                [d.article_id for d in message.deliveries],
                failure.description,
            )
            for delivery in message.deliveries:
                self._finish(delivery, DeliveryStatus.FAILED, failure.description)
        else:
            self._handle_transient(lane, message, failure, now)

    def _handle_transient(
        self, lane: _Lane, message: Message, failure: Failure, now: float
    ) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= OUTAGE_AFTER_FAILURES:
            # Nothing has got through for several tries: Telegram (or the network) is down.
            # Pause everyone rather than spend each story's attempts on the outage.
            if self._failures_in_a_row == OUTAGE_AFTER_FAILURES:
                self._outage_began = now
                logger.warning(
                    "Telegram looks unreachable (%s): deliveries wait, one probe at a time, "
                    "without using up their attempts",
                    failure.description,
                )
            if now >= self._paused_until:
                # The probe after a pause failed too (the sends already in flight when the
                # pause began do not count): wait longer before the next one.
                self._outage_backoff = min(
                    self._config.outage_max_backoff, max(1.0, self._outage_backoff * 2)
                )
                self._paused_until = now + self._outage_backoff
            self._requeue_front(lane, message.deliveries)
            return
        attempts = max(delivery.attempts for delivery in message.deliveries) + 1
        if attempts >= self._config.max_attempts:
            logger.error(
                "giving up on stories %s for chat %s after %d attempts: %s",
                [d.article_id for d in message.deliveries],
                lane.chat_id,
                attempts,
                failure.description,
            )
            for delivery in message.deliveries:
                self._finish(delivery, DeliveryStatus.FAILED, failure.description, attempts)
            return
        lane.ready_at = now + min(self._config.max_backoff, 2.0 ** (attempts - 1))
        retried = tuple(replace(delivery, attempts=attempts) for delivery in message.deliveries)
        for delivery in retried:
            self._note_attempt(delivery, failure.description)
        self._requeue_front(lane, retried)

    def _retry_when_stored(self, lane: _Lane, message: Message, error: StorageUnavailable) -> None:
        """The chat's end could not be written: keep its messages and try the send again
        later, when Telegram will answer the same and the database may take it."""
        self._storage_failed(error)
        lane.ready_at = time.monotonic() + STORAGE_RETRY
        self._requeue_front(lane, message.deliveries)

    def _storage_failed(self, error: StorageUnavailable) -> None:
        if self._storage_trouble is None:
            logger.warning(
                "delivery goes on with what it holds; outcomes are kept in memory until the "
                "database takes them: %s",
                error,
            )
        self._storage_trouble = str(error)

    def _storage_works(self) -> None:
        if self._storage_trouble is not None:
            logger.info("delivery outcomes are written again")
            self._storage_trouble = None

    def _note_attempt(self, delivery: PendingDelivery, error: str) -> None:
        """Write the attempt and its error to the row, which stays claimed for the retry."""
        self._results.append(
            DeliveryUpdate(
                id=delivery.id,
                status=DeliveryStatus.PENDING,
                attempts=delivery.attempts,
                due_at=delivery.due_at,
                error=error,
                release=False,
            )
        )

    def _requeue_front(self, lane: _Lane, deliveries: Sequence[PendingDelivery]) -> None:
        withdrawn = [d for d in deliveries if self._stories.withdrawn(d.article_id)]
        for delivery in withdrawn:
            self._finish(delivery, DeliveryStatus.SKIPPED, SKIPPED_RETRACTED)
        if withdrawn:
            deliveries = [d for d in deliveries if not self._stories.withdrawn(d.article_id)]
        lane.queue.extendleft(reversed(deliveries))
        self._queued += len(deliveries)

    def _finish(
        self,
        delivery: PendingDelivery,
        status: DeliveryStatus,
        error: str | None,
        attempts: int | None = None,
        *,
        message_id: int | None = None,
        digest: Digest | None = None,
    ) -> None:
        self._claimed_ids.discard(delivery.id)
        self._results.append(
            DeliveryUpdate(
                id=delivery.id,
                status=status,
                attempts=attempts if attempts is not None else delivery.attempts + 1,
                due_at=delivery.due_at,
                error=error,
                finished_at=time.time(),
                message_id=message_id,
                digest_kind=None if digest is None else digest.kind,
                digest_language=None if digest is None else digest.language,
            )
        )
        if len(self._results) >= self._config.flush_size:
            self._flushed.set()

    async def _drop_chat(self, lane: _Lane, message: Message, reason: str) -> None:
        async with self._storage_lock:
            # Write the outcomes first, so messages that did reach the chat stay marked sent.
            await self._flush()
            await self._store.deactivate_chat(lane.chat_id, reason, time.time())
        if self._on_chat_gone is not None:
            self._on_chat_gone(lane.chat_id)
        for item in (*message.deliveries, *lane.queue):
            self._claimed_ids.discard(item.id)
        self._queued -= len(lane.queue)
        lane.queue.clear()

    async def _move_chat(self, lane: _Lane, message: Message, new_chat_id: int) -> None:
        async with self._storage_lock:
            await self._flush()
            await self._store.migrate_chat(lane.chat_id, new_chat_id)
        if self._on_chat_gone is not None:
            self._on_chat_gone(lane.chat_id)
        moved = [*message.deliveries, *lane.queue]
        self._queued -= len(lane.queue)
        lane.queue.clear()
        target = self._lane(
            new_chat_id, replace(lane.prefs, chat_id=new_chat_id, type="supergroup")
        )
        self._requeue_front(
            target,
            [replace(item, chat_id=new_chat_id, chat_type="supergroup") for item in moved],
        )
        self._schedule(target)

    # Outbox reads and writes

    def _lane(self, chat_id: int, prefs: ChatPrefs) -> _Lane:
        lane = self._lanes.get(chat_id)
        if lane is None:
            interval = (
                self._config.group_interval
                if prefs.type in GROUP_TYPES
                else self._config.private_interval
            )
            lane = self._lanes[chat_id] = _Lane(chat_id=chat_id, interval=interval, prefs=prefs)
        else:
            lane.prefs = prefs
        return lane

    async def _refill(self) -> int:
        # Chats with deliveries in memory are left out, so that one chat's backlog fills a
        # claim at most once per time its queue runs dry, and the others are reached.
        held = [chat_id for chat_id, lane in self._lanes.items() if lane.queue or lane.busy]
        now = self._clock()
        claimed = await self._store.claim_due(
            now, self._config.claim_batch, self._config.lease, exclude_chats=held
        )
        if not claimed or len(self._lanes) > 4 * self._config.claim_batch:
            self._forget_idle_lanes()
        if not claimed:
            return 0
        self._storage_works()
        try:
            prefs = await self._store.chat_prefs(list({d.chat_id for d in claimed}))
            await self._load_articles({delivery.article_id for delivery in claimed})
        except BaseException:
            # Claimed but not taken in: give the claims back (by the flush, which retries).
            self._results.extend(
                _release(delivery) for delivery in claimed if delivery.id not in self._claimed_ids
            )
            raise
        moment = datetime.fromtimestamp(now, UTC)
        overflow: list[PendingDelivery] = []
        deferred: list[DeliveryUpdate] = []
        for delivery in claimed:
            if delivery.id in self._claimed_ids:
                continue
            chat = prefs.get(delivery.chat_id) or ChatPrefs(
                delivery.chat_id, delivery.chat_type, ChatSettings()
            )
            article = self._stories.get(delivery.article_id)
            if article is None:
                self._finish(delivery, DeliveryStatus.FAILED, "the story no longer exists")
                continue
            if self._stories.withdrawn(delivery.article_id):
                self._finish(delivery, DeliveryStatus.SKIPPED, SKIPPED_RETRACTED)
                continue
            if chat.muted and mutes(article, chat.muted):
                self._finish(delivery, DeliveryStatus.SKIPPED, SKIPPED_MUTED)
                continue
            if not delivery.held:
                release = release_time(chat.settings, moment)
                if release is not None:
                    deferred.append(
                        DeliveryUpdate(
                            id=delivery.id,
                            status=DeliveryStatus.PENDING,
                            attempts=delivery.attempts,
                            due_at=release.timestamp(),
                            held=True,
                        )
                    )
                    continue
            lane = self._lane(delivery.chat_id, chat)
            cap = DIGEST_QUEUE if delivery.held else self._config.per_chat_queue
            if len(lane.queue) >= cap:
                overflow.append(delivery)
                continue
            self._claimed_ids.add(delivery.id)
            lane.queue.append(delivery)
            self._queued += 1
            self._schedule(lane)
        # Either write may meet a full disk or a lock; the flush then writes it, later.
        if deferred:
            try:
                await self._store.update_deliveries(deferred)
            except StorageUnavailable as exc:
                self._storage_failed(exc)
                self._results.extend(deferred)
        if overflow:
            try:
                await self._store.release_deliveries([delivery.id for delivery in overflow])
            except StorageUnavailable as exc:
                self._storage_failed(exc)
                self._results.extend(_release(delivery) for delivery in overflow)
        return len(claimed)

    async def _load_articles(self, article_ids: set[int]) -> None:
        # Read again at every claim (a few stories): a correction must reach the deliveries
        # still pending, and a retracted story must not go out.
        self._stories.update(await self._store.get_articles(list(article_ids)), article_ids)
        for article_id in await self._store.retracted_among(list(article_ids)):
            self._stories.withdraw(article_id)

    def _forget_idle_lanes(self) -> None:
        now = time.monotonic()
        idle = [
            chat_id
            for chat_id, lane in self._lanes.items()
            if not lane.queue and not lane.busy and lane.ready_at <= now
        ]
        for chat_id in idle:
            del self._lanes[chat_id]

    async def _flush_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), timeout=self._config.flush_interval)
            self._flushed.clear()
            try:
                async with self._storage_lock:
                    if await self._flush():
                        self._storage_works()
            except StorageUnavailable as exc:
                self._storage_failed(exc)
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("could not record delivery outcomes; will retry")
                await asyncio.sleep(1.0)

    async def _flush(self) -> bool:
        """Write the outcomes held in memory; True when there were some. On failure they stay
        in memory, in order, for the next try."""
        if not self._results:
            return False
        batch, self._results = self._results, []
        try:
            await self._store.update_deliveries(batch)
        except BaseException:
            self._results[:0] = batch
            raise
        return True

    async def _release_unsent(self) -> None:
        unsent = [delivery.id for lane in self._lanes.values() for delivery in lane.queue]
        await self._store.release_deliveries(unsent)


def _release(delivery: PendingDelivery) -> DeliveryUpdate:
    """The update that gives a claimed delivery back to the outbox unchanged."""
    return DeliveryUpdate(
        id=delivery.id,
        status=DeliveryStatus.PENDING,
        attempts=delivery.attempts,
        due_at=delivery.due_at,
    )
