"""This process among the bot's instances: its name, its role, and the duties only the leader has.

Every instance answers the updates that reach it and serves the HTTP API. The leader (the holder
of the database's lease, bot/leadership.py) also runs the delivery engine, the feed poller, the
pruning of old deliveries, the release of scheduled stories (bot/intake/release.py), the
alerts to the admins (bot/alerts) and, in polling mode, getUpdates. Each instance records
itself in the database at every check, so `tagwire stats` can list the instances and a new
leader knows when the previous one last sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from bot.alerts import AlertMonitor
from bot.context import TagwireApplication, TagwireContext
from bot.leadership import Leadership, Role
from bot.operators import schedule_feed_polls
from storage.base import StorageUnavailable
from storage.leases import FileLease, Lease, NoLease, PostgresLease
from storage.url import DatabaseTarget

logger = logging.getLogger(__name__)

DELIVERY_RETENTION = 7 * 24 * 3600
PRUNE_INTERVAL = 6 * 3600
LEADER_JOBS = ("poll-feeds", "prune-deliveries")


class AnotherInstanceRuns(Exception):
    """A second `tagwire run` on the same SQLite file; the message is one line."""


def default_instance_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def lease_for(target: DatabaseTarget) -> Lease:
    if target.is_postgres:
        return PostgresLease(target.require_dsn())
    path = target.require_path()
    if str(path) == ":memory:":
        # An in-memory database belongs to this process alone.
        return NoLease()
    return FileLease(path)


class Instance:
    """Starts and stops the leader's duties as leadership comes and goes."""

    def __init__(
        self,
        application: TagwireApplication,
        lease: Lease,
        *,
        name: str,
        interval: float,
        spacing: float,
    ) -> None:
        self._application = application
        self._lease = lease
        self.name = name
        # A new leader waits until this long after the previous leader was last seen, so that
        # no chat gets two messages closer than Telegram's per-chat spacing across a takeover:
        # the old leader may have sent for up to one interval after its last record.
        self._quiet = spacing + interval
        self._started_at = time.time()
        self.leadership = Leadership(
            lease,
            on_lead=self._lead,
            on_follow=self._follow,
            on_checked=self._record,
            interval=interval,
        )
        # Set by serve() in polling mode: starts getUpdates (the leader alone polls).
        self.start_polling: Callable[[], Awaitable[None]] | None = None
        # The alerts to the admins (bot/alerts), made when this instance first leads; kept
        # across spells as a follower, with what it announced.
        self.alerts: AlertMonitor | None = None

    @property
    def role(self) -> Role:
        return self.leadership.role

    @property
    def leads(self) -> bool:
        return self.leadership.role is Role.LEADER

    async def start(self) -> None:
        """The first round now, so that a lone instance leads from its first moment; then one
        round every interval in the background."""
        await self.leadership.check()
        self._application.bot_data.role = self.role.value
        if self.role is Role.FOLLOWER and isinstance(self._lease, FileLease):
            await self.leadership.stop()
            holder = self._lease.holder()
            raise AnotherInstanceRuns(
                f"another `tagwire run` uses {self._lease.database}"
                + (f" (pid {holder})" if holder else "")
                + ": one process at a time on a SQLite file; several instances need "
                "PostgreSQL (docs/scaling.md)"
            )
        self.leadership.start()

    async def stop(self) -> None:
        await self.leadership.stop()
        if self.alerts is not None:
            await self.alerts.stop()

    async def _lead(self) -> None:
        application = self._application
        services = application.bot_data.require()
        settle = await self._settle()
        if settle > 0:
            logger.info("waiting %.1fs after the previous leader's last send", settle)
        services.engine.start(settle=settle)
        releaser = services.releaser
        if releaser is not None:
            # Stories that fell due while no leader ran go out now.
            releaser.start()

        def wake() -> None:
            services.engine.wake()
            if releaser is not None:
                releaser.wake()

        # Stories taken in (or scheduled) by any instance wake this one at once (PostgreSQL's
        # NOTIFY).
        budget = services.engine.budget
        own_name = self.name

        def sent_elsewhere(instance: str, count: int) -> None:
            # Replies other instances sent: this one's deliveries make room for them.
            if instance != own_name:
                budget.take(count)

        await services.store.watch_outbox(wake, sent_elsewhere)
        schedule_feed_polls(application)
        settings = application.bot_data.require_settings()
        if settings.admin_ids:
            if self.alerts is None:
                self.alerts = AlertMonitor(
                    services.store, application.bot, services.engine, settings
                )
            await self.alerts.start()
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                _prune_deliveries, interval=PRUNE_INTERVAL, first=60, name="prune-deliveries"
            )
        application.bot_data.role = Role.LEADER.value
        if self.start_polling is not None:
            await self.start_polling()

    async def _follow(self) -> None:
        application = self._application
        application.bot_data.role = Role.FOLLOWER.value
        updater = application.updater
        if self.start_polling is not None and updater is not None and updater.running:
            await updater.stop()
        if application.job_queue is not None:
            for name in LEADER_JOBS:
                for job in application.job_queue.get_jobs_by_name(name):
                    job.schedule_removal()
        services = application.bot_data.services
        if services is not None:
            with contextlib.suppress(StorageUnavailable):
                await services.store.watch_outbox(None)
            if services.releaser is not None:
                await services.releaser.stop()
            await services.engine.stop()
        if self.alerts is not None:
            # Last: the sends stop first. It may go on watching the database (bot/alerts).
            await self.alerts.step_down()

    async def _settle(self) -> float:
        store = self._application.bot_data.require().store
        now = time.time()
        try:
            seen = await store.instances(since=now - self._quiet)
        except StorageUnavailable:
            return self._quiet
        others = [
            instance.seen_at
            for instance in seen
            if instance.role == Role.LEADER.value and instance.name != self.name
        ]
        return max(0.0, max(others) + self._quiet - now) if others else 0.0

    async def _record(self, role: Role) -> None:
        services = self._application.bot_data.services
        if services is None:
            return
        try:
            await services.store.record_instance(
                self.name, role.value, started_at=self._started_at, now=time.time()
            )
        except StorageUnavailable:
            # The lease check reports the trouble, once.
            return


async def _prune_deliveries(context: TagwireContext) -> None:
    removed = await context.store.prune_deliveries(time.time() - DELIVERY_RETENTION)
    if removed:
        logger.info("pruned %d finished deliveries older than 7 days", removed)
