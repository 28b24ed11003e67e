"""The alerts' look at the bot, every TAGWIRE_ALERT_CHECK_INTERVAL seconds, on the leader alone.

Each look reads what it needs (the feeds, the longest-waiting due delivery, the database's
last write failure, the delivery engine's view of Telegram, getMe when nothing else says
whether Telegram answers), lets `incidents.decide` say what starts and ends, records that in
the `incidents` table, and has the notifier tell the admins.

The table is what makes one alert per incident hold across instances: an incident is announced
by whoever records it first (INSERT … ON CONFLICT DO NOTHING) and its end by whoever deletes it,
and a new leader starts from the recorded ones. Three things cannot go through the database:

- The database refusing writes: its incident is kept in memory only. A takeover while it lasts
  (another instance, or a restart) announces it again, once per takeover; its end is announced
  by the instance that announced it.
- An incident recorded while the database refuses writes is announced all the same and
  written when the database takes writes again (a takeover before that may repeat it).
- PostgreSQL gone altogether ends the leader's lease, and no instance leads while it is away:
  the instance that led keeps looking at the database alone (`step_down`), tells the admins,
  and tells them when it is back, unless it leads again first and does so as the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.alerts.incidents import (
    DATABASE,
    EXCUSE_LATENESS,
    NOT_STORED,
    Change,
    Seen,
    Thresholds,
    decide,
)
from bot.alerts.notices import Notice
from bot.alerts.notifier import AdminNotifier
from bot.delivery.engine import DeliveryCounters
from bot.settings import Settings
from bot.texts.replies import DEFAULT_LANGUAGE
from storage.base import StorageUnavailable, Store
from storage.models import Incident

logger = logging.getLogger(__name__)

# Seconds getMe may take before Telegram counts as unreachable for this look.
PROBE_TIMEOUT = 5.0
# Longest time between two getMe while nothing else says whether Telegram answers.
PROBE_LONGEST_INTERVAL = 30.0
# Seconds a look under way may take to finish when the looks stop (this instance steps down).
STOP_GRACE = 3.0


class SendsSeen(Protocol):
    """What the monitor reads of the delivery engine (bot/delivery/engine.py): whether its
    sends find Telegram unreachable, and how many went through."""

    @property
    def unreachable_since(self) -> float | None: ...

    @property
    def counters(self) -> DeliveryCounters: ...


class AlertMonitor:
    def __init__(
        self,
        store: Store,
        bot: Bot,
        engine: SendsSeen,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._bot = bot
        self._engine = engine
        self._clock = clock
        self._interval = settings.alert_check_interval
        self._limits = Thresholds(
            feed_failures=settings.alert_feed_failures,
            pause_after=settings.feed_pause_after,
            outbox_age=settings.alert_outbox_age,
            telegram_down=settings.alert_telegram_down,
        )
        self._admins = sorted(settings.admin_ids)
        self.notifier = AdminNotifier(
            bot, settings.admin_ids, self._languages, spacing=settings.private_chat_interval
        )
        # The incidents announced and not yet over, as this instance knows them.
        self._open: dict[str, Incident] = {}
        # Recorded (True) or ended (False) here but not yet written: the database refused it.
        self._unwritten: dict[str, bool] = {}
        # Whether the recorded incidents were read since this instance began to lead.
        self._loaded = False
        self._task: asyncio.Task[None] | None = None
        # Set to end the looks of the current task after the look under way.
        self._halt = asyncio.Event()
        # The engine's sent count at the last look; since when getMe has failed; when it was
        # last asked (monotonic), and how often it is while no delivery goes out: often enough
        # to see an outage of TAGWIRE_ALERT_TELEGRAM_DOWN in time, and Telegram's return within
        # 30 s.
        self._sent_seen: int | None = None
        self._probe_failed_at: float | None = None
        self._probed_at = float("-inf")
        self._probe_every = min(
            PROBE_LONGEST_INTERVAL, max(self._interval, settings.alert_telegram_down / 2)
        )
        self._known_languages: dict[int, str] = {}
        # When the last Telegram or database incident ended (bot/alerts/incidents.py, Seen).
        self._excused_until = 0.0

    # Control

    async def start(self) -> None:
        """This instance leads: look every interval, starting from the recorded incidents."""
        await self._stop_task()
        self._loaded = False
        self._halt = asyncio.Event()
        self._task = asyncio.create_task(
            self._run(self._halt, only_database=False), name="tagwire-alerts"
        )

    async def step_down(self) -> None:
        """This instance no longer leads. When the database is what it lost the lead to (or
        its incident is open), keep looking at the database alone until it is back."""
        await self._stop_task()
        if DATABASE in self._open or await self._database_problem() is not None:
            self._halt = asyncio.Event()
            self._task = asyncio.create_task(
                self._run(self._halt, only_database=True), name="tagwire-alerts-database"
            )

    async def stop(self) -> None:
        """The bot stops: no more looks; what could not be sent is logged."""
        await self._stop_task()
        self.notifier.abandon()

    @property
    def open_incidents(self) -> Mapping[str, Incident]:
        return dict(self._open)

    # One look

    async def check(self, *, only_database: bool = False) -> None:
        """Look once: record and announce what started and ended."""
        if not only_database and not self._loaded:
            await self._load()
        await self._write_pending()
        seen = await self._look(only_database=only_database or not self._loaded)
        changes = decide(
            self._open, seen, self._limits, only_database=only_database or not self._loaded
        )
        fresh = False
        for change in changes:
            notice = await self._apply(change, seen)
            if notice is not None:
                # Handed over at once: a stop in the middle of this look loses no notice.
                self.notifier.add(notice)
                fresh = True
        if fresh or (seen.telegram_down_since is None and self.notifier.waiting):
            await self.notifier.flush()

    async def _run(self, halt: asyncio.Event, *, only_database: bool) -> None:
        while not halt.is_set():
            try:
                await self.check(only_database=only_database)
            except Exception:
                logger.exception("alerts: the look failed; next in %gs", self._interval)
            if only_database and DATABASE not in self._open:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), timeout=self._interval)

    async def _stop_task(self) -> None:
        """End the looks: the one under way may finish (its messages are sent) within
        STOP_GRACE seconds; past that it is cancelled, what it had to say kept for later."""
        task, self._task = self._task, None
        if task is None:
            return
        self._halt.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=STOP_GRACE)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # What there is to see

    async def _look(self, *, only_database: bool) -> Seen:
        now = self._clock()
        problem = await self._database_problem()
        if only_database:
            return Seen(now=now, database_problem=problem)
        down_since = await self._telegram_down_since(now)
        try:
            feeds = await self._store.list_feeds()
        except StorageUnavailable:
            feeds = None
        outbox_known = True
        overdue: float | None = None
        pending = 0
        try:
            overdue = await self._store.oldest_due_pending(now)
            if overdue is not None and now - overdue >= self._limits.outbox_age:
                pending = (await self._store.outbox_figures()).pending
        except StorageUnavailable:
            outbox_known = False
        return Seen(
            now=now,
            database_problem=problem,
            telegram_down_since=down_since,
            overdue_since=overdue,
            pending=pending,
            outbox_known=outbox_known,
            outbox_excused_until=self._excused_until,
            feeds=feeds,
        )

    async def _database_problem(self) -> str | None:
        """Why the database refuses writes (its last write failed and a small one fails
        again), or that it does not answer at all; None when it works."""
        problem = await self._store.write_problem()
        if problem is None and not await self._store.ping():
            return "the database does not answer"
        return problem

    async def _telegram_down_since(self, now: float) -> float | None:
        """Since when Telegram has been unreachable: by the engine's sends when it is in an
        outage; otherwise a delivery sent since the last look says it answers, and getMe is
        asked only when nothing was sent."""
        since = self._engine.unreachable_since
        if since is not None:
            if self._probe_failed_at is not None:
                return min(since, self._probe_failed_at)
            return since
        sent = self._engine.counters.sent
        if self._sent_seen is not None and sent != self._sent_seen:
            # A delivery went through since the last look.
            self._sent_seen = sent
            self._probe_failed_at = None
            return None
        self._sent_seen = sent
        if time.monotonic() - self._probed_at < self._probe_every:
            return self._probe_failed_at
        self._probed_at = time.monotonic()
        try:
            await self._bot.get_me(
                read_timeout=PROBE_TIMEOUT,
                write_timeout=PROBE_TIMEOUT,
                connect_timeout=PROBE_TIMEOUT,
                pool_timeout=PROBE_TIMEOUT,
            )
        except BadRequest:
            pass
        except NetworkError:
            # Unreachable, timed out, or a 5xx: Telegram did not answer.
            if self._probe_failed_at is None:
                self._probe_failed_at = now
            return self._probe_failed_at
        except TelegramError:
            # It answered (a 429, a revoked token): reachable, whatever else is wrong.
            pass
        self._probe_failed_at = None
        return None

    async def _languages(self) -> Mapping[int, str]:
        """Each admin's chosen language (English when unknown); the last known ones while the
        database cannot be read."""
        try:
            prefs = await self._store.chat_prefs(self._admins)
        except StorageUnavailable:
            return self._known_languages
        self._known_languages = {
            admin: (prefs[admin].settings.language if admin in prefs else None) or DEFAULT_LANGUAGE
            for admin in self._admins
        }
        return self._known_languages

    # The incidents recorded in the database

    async def _load(self) -> None:
        """Start from the incidents recorded (by this instance or a previous leader), keeping
        what this instance holds that the database could not take."""
        try:
            recorded = await self._store.incidents()
        except StorageUnavailable:
            return
        merged = {
            incident.key: incident
            for incident in recorded
            if self._unwritten.get(incident.key) is not False
        }
        for key, incident in self._open.items():
            if key in NOT_STORED or self._unwritten.get(key) is True:
                merged[key] = incident
        self._open = merged
        self._loaded = True

    async def _write_pending(self) -> None:
        for key, opened in list(self._unwritten.items()):
            incident = self._open.get(key)
            try:
                if opened and incident is not None:
                    await self._store.open_incident(
                        key, incident.started_at, incident.detail, incident.announced_at
                    )
                elif not opened:
                    await self._store.close_incident(key)
            except StorageUnavailable:
                return
            del self._unwritten[key]

    async def _apply(self, change: Change, seen: Seen) -> Notice | None:
        """Record the change; its notice when this instance is the one to announce it."""
        if change.starts:
            announce = await self._record_start(change, seen.now)
            if announce:
                logger.warning("alert %s: %s", change.key, change.detail or "started")
        else:
            if change.key in EXCUSE_LATENESS:
                self._excused_until = seen.now
            announce = await self._record_end(change.key)
            if announce:
                logger.info("alert %s: over", change.key)
        return change.notice if announce else None

    async def _record_start(self, change: Change, now: float) -> bool:
        incident = Incident(change.key, change.started_at, change.detail, now)
        self._open[change.key] = incident
        if change.key in NOT_STORED:
            return True
        try:
            return await self._store.open_incident(
                change.key, change.started_at, change.detail, now
            )
        except StorageUnavailable:
            # Told now, written when the database takes it.
            self._unwritten[change.key] = True
            return True

    async def _record_end(self, key: str) -> bool:
        self._open.pop(key, None)
        if key in NOT_STORED:
            return True
        if self._unwritten.pop(key, None) is True:
            # Never written: nothing to delete.
            return True
        try:
            return await self._store.close_incident(key)
        except StorageUnavailable:
            self._unwritten[key] = False
            return True
