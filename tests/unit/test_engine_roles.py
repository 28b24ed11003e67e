"""The delivery engine as leadership comes and goes: stopped as a follower, started again as
the leader, and waiting out the previous leader's per-chat spacing."""

from __future__ import annotations

import time

from bot.delivery.engine import DeliveryEngine
from storage.base import Store
from tests.conftest import add_chat
from tests.support.engine import FakeSender, fast_config, publish, run_until, wait_until


async def test_a_stopped_engine_starts_again_and_sends_what_came_meanwhile(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, fast_config())
    await run_until(engine, lambda: len(sender.sent) == 1)
    # A spell as a follower: the story published now is for the next leader to send.
    await publish(store, (2, ["Japan"]))
    await run_until(engine, lambda: len(sender.sent) == 2)
    assert [chat for chat, _, _ in sender.sent] == [1, 1]
    assert "Story 2" in sender.sent[1][1]
    assert (await store.stats()).deliveries_pending == 0


async def test_a_settling_engine_sends_nothing_before_its_time(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, fast_config())
    started = time.monotonic()
    engine.start(settle=0.5)
    try:
        await wait_until(lambda: len(sender.sent) == 1)
    finally:
        await engine.stop()
    assert sender.sent[0][2] - started >= 0.5


async def test_a_stop_while_settling_ends_at_once(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, fast_config())
    engine.start(settle=30)
    began = time.monotonic()
    await engine.stop()
    assert time.monotonic() - began < 5
    assert sender.sent == []
    assert (await store.stats()).deliveries_pending == 1
