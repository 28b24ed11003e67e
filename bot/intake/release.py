"""Scheduled stories go out at their time: the leader's releaser.

A story pushed with a future `publish_at` (or `published_at`) is stored but held: in no tag's
list, no search and no outbox (storage: `schedules`). The releaser, one of the leader's duties
(bot/instance.py), sleeps until the next one is due, releases every due story (it joins its
tags' lists and is fanned out as a new story is, in one transaction) and wakes the delivery
engine. Stories that fell due while no leader ran (the bot was stopped, or between two leaders)
go out when the next leader starts.

It sleeps at most `longest_sleep`: on SQLite the outbox poll interval, since a `tagwire push`
in another process cannot wake it; on PostgreSQL longer, since any instance that stores a
scheduled story sends NOTIFY, which wakes it (`wake`) to look at the new earliest time.
Exactly-once holds in the database, not here: a release is a conditional UPDATE, so two
releasers (a leader stepping down while another takes over) never release a story twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from storage.base import StorageUnavailable, Store

logger = logging.getLogger(__name__)

# Stories released per transaction; more due at once take several.
RELEASE_BATCH = 100
# The longest sleep where a story scheduled by any process wakes the releaser (PostgreSQL's
# NOTIFY): a lost notification delays a release by at most this.
NOTIFIED_LONGEST_SLEEP = 30.0
# Seconds to wait after the database refused a release before trying again.
RETRY_AFTER_TROUBLE = 1.0


class StoryReleaser:
    def __init__(
        self,
        store: Store,
        *,
        longest_sleep: float,
        on_queued: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        batch: int = RELEASE_BATCH,
    ) -> None:
        self._store = store
        self._longest_sleep = longest_sleep
        self._on_queued = on_queued
        self._clock = clock
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Why the database refused the last round, until one works (logged once).
        self._trouble: str | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """A story was scheduled (here or, on PostgreSQL, anywhere): look at the times again."""
        self._wake.set()

    def start(self) -> None:
        if self.running:
            return
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="tagwire-release")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def release_due(self) -> int:
        """Release every story due now; how many went out."""
        released = 0
        while True:
            stories = await self._store.release_due(self._clock(), self._batch)
            released += len(stories)
            for story in stories:
                logger.info(
                    "scheduled story %d is out (%s): %d deliveries queued",
                    story.article_id,
                    story.url,
                    story.recipients,
                )
            if any(story.recipients for story in stories) and self._on_queued is not None:
                self._on_queued()
            if len(stories) < self._batch:
                return released

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.release_due()
                due = await self._store.next_publish_at()
                if self._trouble is not None:
                    logger.info("scheduled stories are released again")
                    self._trouble = None
            except StorageUnavailable as exc:
                if self._trouble is None:
                    logger.warning(
                        "cannot release scheduled stories (%s); retrying every %g s",
                        exc,
                        RETRY_AFTER_TROUBLE,
                    )
                self._trouble = str(exc)
                await asyncio.sleep(RETRY_AFTER_TROUBLE)
                continue
            except Exception:
                logger.exception("releasing scheduled stories failed; retrying in 1 s")
                await asyncio.sleep(RETRY_AFTER_TROUBLE)
                continue
            sleep = self._longest_sleep
            if due is not None:
                # Not less than a moment: a story due but left alone this round (another
                # releaser holds its row) must not make this a busy loop.
                sleep = min(sleep, max(0.01, due - self._clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sleep)
