"""Three `tagwire run` on one PostgreSQL database, the leader killed with SIGKILL in the middle of
a fan-out: another takes over within seconds and every follower gets the story, with no 429
from a Telegram that enforces its limits and never two messages to one chat within a second."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.delivery.config import DeliveryConfig
from bot.emulator import BotApiEmulator
from tests.support.balancer import RoundRobinBalancer
from tests.support.faults import BotProcess, received, report, seed, size, story, tally
from tests.support.harness import push, subprocess_env
from tests.support.postgres import fresh_database
from tests.support.webhook import free_port

LEADS = "this instance leads"
# Telegram's own numbers, not the tests' fast settings.
REAL_LIMITS = {"rate_limit": 25.0, "private_chat_interval": 1.0, "group_chat_interval": 3.0}


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def test_killing_the_leader_mid_fan_out_loses_nothing_and_breaks_no_limit(
    emulator: BotApiEmulator, postgres_url: str, tmp_path: Path
) -> None:
    followers = list(range(300_001, 300_001 + size(200, 2_000)))
    await seed(postgres_url, emulator, {chat: ["Japan"] for chat in followers})
    emulator.enforce_limits(per_second=30, per_chat_interval=1.0, group_per_minute=20)
    # Requests take a little while, so some are in flight when the kill lands.
    emulator.latency = 0.03

    instances: dict[str, BotProcess] = {}
    try:
        await _start_three(instances, emulator, postgres_url, tmp_path)

        url = story(1, "Japan")["url"]
        pushed = await push(postgres_url, [story(1, "Japan")])
        assert f"{len(followers)} deliveries queued" in pushed.stdout, pushed.stderr
        await emulator.wait_for(
            lambda: len(emulator.sent_messages()) >= len(followers) // 4, timeout=120
        )
        await instances["a"].kill()
        killed_at = time.monotonic()
        in_flight_at_kill = len(emulator.sent_messages())

        leader = await asyncio.wait_for(_new_leader(instances, ("b", "c")), timeout=5)
        takeover = time.monotonic() - killed_at
        await emulator.wait_for(
            lambda: set(received(emulator)) >= set(followers),
            timeout=len(followers) / 20 + 60,
        )
        # The marker: a command the new leader answers comes after anything still queued.
        emulator.add_user(999)
        emulator.send_text(999, 999, "/help")
        await emulator.wait_for_messages(999, 1, timeout=30)
        other = "c" if leader == "b" else "b"
        assert LEADS not in instances[other].output
        for name in ("b", "c"):
            assert await instances[name].stop() == 0, instances[name].output[-3000:]
    finally:
        for bot in instances.values():
            await bot.kill()

    _assert_nothing_lost_and_no_limit_broken(
        "failover",
        emulator,
        followers,
        url,
        sent_before_kill=in_flight_at_kill,
        takeover=takeover,
    )


async def test_webhook_instances_take_updates_in_turn_and_survive_the_leaders_death(
    emulator: BotApiEmulator, postgres_url: str, tmp_path: Path
) -> None:
    """Behind a load balancer every instance answers commands; the leader alone sends."""
    followers = list(range(400_001, 400_001 + size(200, 2_000)))
    readers = list(range(500_001, 500_031))
    follows: dict[int, list[str]] = {chat: ["Japan"] for chat in followers}
    await seed(postgres_url, emulator, follows | {reader: [] for reader in readers})
    emulator.enforce_limits(per_second=30, per_chat_interval=1.0, group_per_minute=20)
    emulator.latency = 0.03
    ports = [free_port() for _ in range(3)]
    balancer = await RoundRobinBalancer([f"http://127.0.0.1:{port}" for port in ports]).start()
    instances: dict[str, BotProcess] = {}
    try:
        await _start_three(
            instances,
            emulator,
            postgres_url,
            tmp_path,
            webhook_url=f"{balancer.url}/telegram/webhook",
            http_ports=ports,
        )

        # Readers' commands spread over the three.
        await _ask_latest(emulator, readers[:15])
        assert len(balancer.answered) == 3, balancer.answered

        url = story(1, "Japan")["url"]
        pushed = await push(postgres_url, [story(1, "Japan")])
        assert f"{len(followers)} deliveries queued" in pushed.stdout, pushed.stderr
        await emulator.wait_for(
            lambda: len(emulator.sent_messages()) >= len(followers) // 4, timeout=120
        )
        await instances["a"].kill()
        killed_at = time.monotonic()
        in_flight_at_kill = len(emulator.sent_messages())
        leader = await asyncio.wait_for(_new_leader(instances, ("b", "c")), timeout=5)
        takeover = time.monotonic() - killed_at
        # The two left answer the rest of the readers while the new leader sends at full pace;
        # the dead one is passed over.
        await emulator.wait_for(
            lambda: len(emulator.sent_messages()) >= in_flight_at_kill + 25, timeout=30
        )
        before = dict(balancer.answered)
        await _ask_latest(emulator, readers[15:], per_second=12)
        answered_after = {
            backend: count - before.get(backend, 0) for backend, count in balancer.answered.items()
        }
        assert answered_after.get(f"http://127.0.0.1:{ports[0]}", 0) == 0
        assert sum(count > 0 for count in answered_after.values()) == 2, answered_after
        await emulator.wait_for(
            lambda: set(received(emulator)) >= set(followers),
            timeout=len(followers) / 20 + 60,
        )
        other = "c" if leader == "b" else "b"
        assert LEADS not in instances[other].output
        for name in ("b", "c"):
            assert await instances[name].stop() == 0, instances[name].output[-3000:]
    finally:
        for bot in instances.values():
            await bot.kill()
        await balancer.stop()

    # Every reader's /latest had exactly one answer, whichever instance took it.
    assert all(len(emulator.sent_messages(reader)) == 1 for reader in readers)
    _assert_nothing_lost_and_no_limit_broken(
        "webhook failover",
        emulator,
        followers,
        url,
        sent_before_kill=in_flight_at_kill,
        takeover=takeover,
    )


async def _start_three(
    instances: dict[str, BotProcess],
    emulator: BotApiEmulator,
    postgres_url: str,
    tmp_path: Path,
    *,
    http_ports: list[int] | None = None,
    **settings: object,
) -> None:
    """`tagwire run` as instances a, b and c (into `instances` as each starts, for the caller
    to kill), a first so that it leads; each with its own HTTP port when given."""
    for index, name in enumerate(("a", "b", "c")):
        own = {"http_port": http_ports[index]} if http_ports is not None else {}
        env = subprocess_env(
            emulator,
            postgres_url,
            instance_name=name,
            leader_check_interval=0.5,
            **REAL_LIMITS,
            **own,
            **settings,
        )
        instances[name] = await BotProcess(env, tmp_path).start()
        if name == "a":
            await instances["a"].wait_for_output(LEADS)
    for name in ("b", "c"):
        await instances[name].wait_for_output("tagwire is running")
    assert [name for name, bot in instances.items() if LEADS in bot.output] == ["a"]


async def _new_leader(instances: dict[str, BotProcess], names: tuple[str, ...]) -> str:
    while True:
        for name in names:
            if LEADS in instances[name].output:
                return name
        await asyncio.sleep(0.05)


async def _ask_latest(
    emulator: BotApiEmulator, readers: list[int], *, per_second: float | None = None
) -> None:
    """Each reader asks /latest once and is answered. (Of a tag without stories: the answer must
    not count as a delivery of the story.) With `per_second`, the readers ask one after the
    other at that pace: during a fan-out at 25 a second, 12 replies a second are more than the 5
    Telegram leaves beside it, so unless the leader hears of the other instances' replies and
    makes room for them (bot/delivery/ratelimit.py, SendReports), Telegram answers 429."""
    for reader in readers:
        emulator.send_text(reader, reader, "/latest Korea")
        if per_second is not None:
            await asyncio.sleep(1 / per_second)
    for reader in readers:
        await emulator.wait_for_messages(reader, 1, timeout=30)


def _assert_nothing_lost_and_no_limit_broken(
    name: str,
    emulator: BotApiEmulator,
    followers: list[int],
    url: str,
    *,
    sent_before_kill: int,
    takeover: float,
) -> None:
    result = tally(emulator, {chat: {url} for chat in followers})
    refused = [call for call in emulator.calls if call.status == 429]
    sends: dict[int, list[float]] = defaultdict(list)
    for call in emulator.calls:
        if call.method == "sendMessage" and call.status == 200:
            sends[int(call.params["chat_id"])].append(call.at)
    accepted = sorted(at for times in sends.values() for at in times)
    busiest_second = max(
        (bisect.bisect_right(accepted, at + 1.0) - index for index, at in enumerate(accepted)),
        default=0,
    )
    closest = min(
        (
            later - earlier
            for times in sends.values()
            for earlier, later in itertools.pairwise(times)
        ),
        default=None,
    )
    report(
        name,
        chats=len(followers),
        delivered=result.delivered,
        repeats=result.repeats,
        sent_before_kill=sent_before_kill,
        takeover_seconds=round(takeover, 2),
        refused_429=len(refused),
        most_sent_in_one_second=busiest_second,
        closest_pair_seconds=closest,
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    # Only what Telegram had accepted but the dead leader had not yet recorded goes twice.
    config = DeliveryConfig(rate_limit=REAL_LIMITS["rate_limit"])
    assert result.repeats <= config.max_in_flight + config.flush_size, result.describe()
    assert refused == []
    assert closest is None or closest >= 1.0
    assert takeover < 5
