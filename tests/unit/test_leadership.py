"""One leader at a time: the lease, taking over, stepping down."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.leadership import Leadership, Role
from storage.leases import FileLease, PostgresLease

SERVER = os.environ.get("TAGWIRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


class Duties:
    """Records what an instance was told to do."""

    def __init__(self) -> None:
        self.log: list[str] = []

    async def lead(self) -> None:
        self.log.append("lead")

    async def follow(self) -> None:
        self.log.append("follow")


@pytest.fixture
def key() -> int:
    # A key of its own, so that concurrent tests (and a running bot) never share the lease.
    return random.randrange(1, 2**62)


@pytest.fixture
async def instances(key: int) -> AsyncIterator[list[tuple[Leadership, Duties]]]:
    made: list[tuple[Leadership, Duties]] = []
    for _ in range(3):
        duties = Duties()
        election = Leadership(
            PostgresLease(SERVER, key=key), on_lead=duties.lead, on_follow=duties.follow
        )
        made.append((election, duties))
    yield made
    for election, _ in made:
        await election.stop()


async def test_exactly_one_instance_leads(instances: list[tuple[Leadership, Duties]]) -> None:
    roles = [await election.check() for election, _ in instances]
    assert roles == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    # Checking again changes nothing: the leader keeps it, the others keep waiting.
    roles = [await election.check() for election, _ in instances]
    assert roles == [Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    assert [duties.log for _, duties in instances] == [["lead"], [], []]


async def test_a_stopping_leader_hands_over_at_the_next_check(
    instances: list[tuple[Leadership, Duties]],
) -> None:
    (first, first_duties), (second, second_duties), _ = instances
    assert await first.check() is Role.LEADER
    assert await second.check() is Role.FOLLOWER
    await first.stop()
    assert first_duties.log == ["lead", "follow"]
    assert await second.check() is Role.LEADER
    assert second_duties.log == ["lead"]


async def test_a_leader_whose_connection_dies_steps_down_and_another_takes_over(
    instances: list[tuple[Leadership, Duties]], key: int
) -> None:
    (first, first_duties), (second, second_duties), _ = instances
    assert await first.check() is Role.LEADER
    assert await second.check() is Role.FOLLOWER
    # What a crash or a lost network looks like from the server: the session is gone.
    admin = await asyncpg.connect(SERVER)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
            "AND ((classid::bigint << 32) | objid::bigint) = $1",
            key,
        )
    finally:
        await admin.close()
    assert ended == 1
    assert await first.check() is Role.FOLLOWER
    assert first_duties.log == ["lead", "follow"]
    assert await second.check() is Role.LEADER
    assert second_duties.log == ["lead"]


async def test_the_loop_takes_over_within_a_few_intervals(key: int) -> None:
    leader_duties, standby_duties = Duties(), Duties()
    leader = Leadership(
        PostgresLease(SERVER, key=key), on_lead=leader_duties.lead, on_follow=leader_duties.follow
    )
    checked: list[Role] = []

    async def on_checked(role: Role) -> None:
        checked.append(role)

    standby = Leadership(
        PostgresLease(SERVER, key=key),
        on_lead=standby_duties.lead,
        on_follow=standby_duties.follow,
        on_checked=on_checked,
        interval=0.2,
    )
    try:
        assert await leader.check() is Role.LEADER
        standby.start()
        # Two rounds of the standby's loop while the leader holds the lease.
        deadline = time.monotonic() + 10
        while len(checked) < 2:
            assert time.monotonic() < deadline, "the standby's loop did not check"
            await asyncio.sleep(0.01)
        assert set(checked) == {Role.FOLLOWER}
        assert standby.role is Role.FOLLOWER
        changed = asyncio.create_task(standby.wait_for_change())
        await leader.stop()
        assert await asyncio.wait_for(changed, timeout=5) is Role.LEADER
    finally:
        await standby.stop()
    assert standby_duties.log == ["lead", "follow"]


async def test_an_unreachable_database_leaves_the_instance_a_follower(
    caplog: pytest.LogCaptureFixture,
) -> None:
    duties = Duties()
    # Nothing listens on port 9 (discard) of this machine.
    election = Leadership(
        PostgresLease("postgresql://postgres@127.0.0.1:9/postgres", timeout=1.0),
        on_lead=duties.lead,
        on_follow=duties.follow,
    )
    with caplog.at_level(logging.WARNING, logger="bot.leadership"):
        assert await election.check() is Role.FOLLOWER
        assert await election.check() is Role.FOLLOWER
    await election.stop()
    assert duties.log == []
    warnings = [r for r in caplog.records if "cannot check the lease" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_file_lease_is_held_by_one_holder_until_released(tmp_path: Path) -> None:
    database = tmp_path / "tagwire.db"
    first, second = FileLease(database), FileLease(database)
    assert await first.acquire()
    assert not await second.acquire()
    assert first.holder() == str(os.getpid())
    assert (first.path.stat().st_mode & 0o777) == 0o600
    await first.release()
    assert await second.acquire()
    await second.release()
