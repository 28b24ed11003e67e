"""One leader per bot: the instance that holds the database's lease sends.

Every instance handles updates that reach it and serves the HTTP API; only the leader runs the
delivery engine, the feed poller and, in polling mode, getUpdates (Telegram allows one poller).
`Leadership` tries the lease every `interval` seconds; it calls `on_lead` when this instance
becomes the leader and `on_follow` when it stops being one (the lease was lost with its
database connection, or the instance is stopping). A leader that loses the database steps down
at its next check, before another instance can have taken over: the server frees the lease only
when the leader's lease connection has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum

from storage.base import StorageUnavailable
from storage.leases import Lease

logger = logging.getLogger(__name__)

# `tagwire stats` and /stats list the instances seen within this many seconds.
INSTANCES_WINDOW = 60.0


class Role(StrEnum):
    LEADER = "leader"
    FOLLOWER = "follower"


class Leadership:
    def __init__(
        self,
        lease: Lease,
        *,
        on_lead: Callable[[], Awaitable[None]],
        on_follow: Callable[[], Awaitable[None]],
        on_checked: Callable[[Role], Awaitable[None]] | None = None,
        interval: float = 1.0,
    ) -> None:
        self._lease = lease
        self._on_lead = on_lead
        self._on_follow = on_follow
        self._on_checked = on_checked
        self._interval = interval
        self.role = Role.FOLLOWER
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        # Logged once per spell of trouble, not at every check.
        self._trouble: str | None = None

    async def check(self) -> Role:
        """One round: take the lease if free, or confirm it is still ours."""
        try:
            if self.role is Role.FOLLOWER:
                if await self._lease.acquire():
                    await self._become(Role.LEADER)
            elif not await self._lease.held():
                logger.warning("lost the lease with its database connection: stepping down")
                await self._become(Role.FOLLOWER)
            if self._trouble is not None:
                logger.info("the database answers the lease again")
                self._trouble = None
        except StorageUnavailable as exc:
            if self._trouble is None:
                logger.warning(
                    "cannot check the lease (%s); retrying every %gs", exc, self._interval
                )
            self._trouble = str(exc)
            if self.role is Role.LEADER:
                await self._become(Role.FOLLOWER)
            return self.role
        if self._on_checked is not None:
            await self._on_checked(self.role)
        return self.role

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-leadership")

    async def stop(self) -> None:
        """Stop trying; a leader first finishes its duties (`on_follow`), then gives the lease
        back so that another instance takes over at once rather than after a timeout."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.role is Role.LEADER:
            await self._become(Role.FOLLOWER)
        await self._lease.release()

    async def wait_for_change(self) -> Role:
        """The role after the next change (for tests and the runner)."""
        self._changed.clear()
        await self._changed.wait()
        return self.role

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                # Starting or stopping the duties failed half way: this instance must not go on
                # leading on a lease it may have lost. Step down, and try again next round.
                logger.exception("leadership check failed; stepping down and trying again")
                with contextlib.suppress(Exception):
                    await self._step_down_after_error()
            await asyncio.sleep(self._interval)

    async def _step_down_after_error(self) -> None:
        if self.role is Role.LEADER:
            await self._become(Role.FOLLOWER)
        else:
            await self._lease.release()

    async def _become(self, role: Role) -> None:
        self.role = role
        if role is Role.LEADER:
            logger.info("this instance leads: it sends, polls feeds and fetches updates")
            await self._on_lead()
        else:
            # The lease is gone or going: duties stop before anything else is tried.
            await self._lease.release()
            await self._on_follow()
        self._changed.set()
