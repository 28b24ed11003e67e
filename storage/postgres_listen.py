"""LISTEN for the outbox on a connection of its own: every fan-out that queues deliveries, in
any process, sends `NOTIFY tagwire_outbox` in its transaction (storage/postgres_ingest.py),
and the delivery engine of the process that listens wakes at once instead of at its next poll.
On the same connection, `tagwire_sends`: the messages other instances sent as replies to
commands (`<instance> <count>`), which count against the same overall limit as deliveries.

The engine still polls: a notification is only a shortcut. So a lost connection is no error
here: the watcher wakes the engine (something may have been queued meanwhile), then connects
again, waiting longer each time the server does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

import asyncpg  # type: ignore[import-untyped]

from storage.postgres_ingest import OUTBOX_CHANNEL, SENDS_CHANNEL
from storage.postgres_pool import CONNECT_TIMEOUT, one_line

logger = logging.getLogger("storage.postgres")

_FIRST_RETRY = 0.5
_LAST_RETRY = 30.0
# A report larger than this is no instance's (a second's sends at paid-broadcast rates).
_MOST_SENDS_A_REPORT = 1000


class OutboxWatcher:
    """Calls `wake` whenever deliveries are queued, and `sent_elsewhere(instance, count)` when
    an instance reports messages it sent, until `stop()`."""

    def __init__(
        self,
        dsn: str,
        wake: Callable[[], None],
        sent_elsewhere: Callable[[str, int], None] | None = None,
    ) -> None:
        self._dsn = dsn
        self._wake = wake
        self._sent_elsewhere = sent_elsewhere
        self._task = asyncio.create_task(self._run(), name="tagwire-outbox-listener")

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        retry = _FIRST_RETRY
        trouble: str | None = None
        while True:
            try:
                db = await asyncpg.connect(
                    self._dsn,
                    timeout=CONNECT_TIMEOUT,
                    server_settings={"application_name": "tagwire-listen"},
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if trouble is None:
                    trouble = one_line(exc)
                    logger.warning(
                        "cannot listen for queued deliveries (%s); the engine polls meanwhile",
                        trouble,
                    )
                await asyncio.sleep(retry)
                retry = min(retry * 2, _LAST_RETRY)
                continue
            try:
                lost = asyncio.Event()
                db.add_termination_listener(functools.partial(_ended, lost))
                await db.add_listener(OUTBOX_CHANNEL, self._notified)
                if self._sent_elsewhere is not None:
                    await db.add_listener(SENDS_CHANNEL, self._sends_reported)
                if trouble is not None:
                    logger.info("listening for queued deliveries again")
                    trouble = None
                retry = _FIRST_RETRY
                # Whatever was queued while nobody listened.
                self._wake()
                await lost.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                await _close(db)

    def _notified(self, *_: object) -> None:
        self._wake()

    def _sends_reported(self, _db: object, _pid: int, _channel: str, payload: str) -> None:
        instance, _, count = payload.rpartition(" ")
        if self._sent_elsewhere is not None and instance and count.isdigit():
            self._sent_elsewhere(instance, min(int(count), _MOST_SENDS_A_REPORT))


def _ended(lost: asyncio.Event, _: object) -> None:
    lost.set()


async def _close(db: asyncpg.Connection) -> None:
    if db.is_closed():
        return
    try:
        await asyncio.shield(asyncio.wait_for(db.close(), timeout=5))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        db.terminate()
