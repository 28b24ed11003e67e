"""The delivery engine against faults from below, with a fake sender: a database that refuses
writes for a while, a storm of replies eating the send budget, a stop while it waits, an
outage that must be probed one send at a time."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence

import pytest
from telegram.error import Forbidden, NetworkError

from bot.delivery.engine import OUTAGE_AFTER_FAILURES, DeliveryEngine
from bot.delivery.ratelimit import SendBudget
from storage.base import StorageUnavailable
from storage.models import DeliveryUpdate
from storage.sqlite import SqliteStore
from tests.conftest import add_chat
from tests.support.engine import FakeSender, fast_config, publish, run_until, wait_until

FAST = fast_config(private_interval=0.01, group_interval=0.01, outage_max_backoff=0.4)


class RefusingStore(SqliteStore):
    """The real store whose writes of outcomes and chat changes fail while `refusing`."""

    refusing = False
    refused = 0
    refused_calls: list[str]

    @classmethod
    async def create(cls) -> RefusingStore:
        opened = await SqliteStore.open(":memory:")
        store = cls(opened._writer, opened._reader)
        store.refused_calls = []
        return store

    def _check(self, call: str) -> None:
        if self.refusing:
            self.refused += 1
            self.refused_calls.append(call)
            raise StorageUnavailable("the database cannot be written: database or disk is full")

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        self._check("update_deliveries")
        await super().update_deliveries(updates)

    async def deactivate_chat(self, chat_id: int, reason: str, now: float) -> int:
        self._check("deactivate_chat")
        return await super().deactivate_chat(chat_id, reason, now)


async def test_outcomes_are_kept_while_the_database_refuses_them_and_written_after() -> None:
    store = await RefusingStore.create()
    try:
        for chat_id in range(1, 21):
            await add_chat(store, chat_id, "Japan")
        await publish(store, (1, ["Japan"]), (2, ["Japan"]))
        sender = FakeSender()
        engine = DeliveryEngine(store, sender, FAST)
        store.refusing = True
        engine.start()
        try:
            await wait_until(lambda: len(sender.sent) == 40, what="every message sent")
            # A write of their outcomes was refused after the last of them went out.
            refused = store.refused
            await wait_until(lambda: store.refused > refused, what="another refused write")
            stats = await store.stats()
            store.refusing = False
            deadline = time.monotonic() + 10
            while (await store.stats()).deliveries_sent < 40:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            await engine.stop()
        assert stats.deliveries_sent == 0
        assert len(sender.sent) == 40
        assert (await store.stats()).deliveries_pending == 0
    finally:
        await store.close()


async def test_a_blocked_chat_whose_end_cannot_be_written_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = await RefusingStore.create()
    try:
        await add_chat(store, 1, "Japan")
        await add_chat(store, 2, "Japan")
        await publish(store, (1, ["Japan"]))
        blocked = Forbidden("Forbidden: bot was blocked by the user")
        sender = FakeSender(failures={1: [blocked] * 100})
        monkeypatch.setattr("bot.delivery.engine.STORAGE_RETRY", 0.2)
        store.refusing = True
        engine = DeliveryEngine(store, sender, FAST)
        engine.start()
        try:
            await wait_until(
                lambda: "deactivate_chat" in store.refused_calls, what="chat 1's end refused"
            )
            store.refusing = False
            deadline = time.monotonic() + 10
            while (chat := await store.get_chat(1)) is None or chat.active:
                assert time.monotonic() < deadline, "chat 1 was never set aside"
                await asyncio.sleep(0.05)
        finally:
            await engine.stop()
        stats = await store.stats()
        assert (stats.deliveries_sent, stats.deliveries_pending) == (1, 0)
        assert sender.to(2)
    finally:
        await store.close()


async def test_a_storm_of_replies_delays_deliveries_by_a_second_at_most(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    budget = SendBudget(rate=10)
    for _ in range(600):
        budget.take()  # a minute's worth of replies went out in an instant
    sender = FakeSender()
    config = fast_config(rate_limit=10)
    started = time.monotonic()
    await run_until(
        DeliveryEngine(store, sender, config, budget=budget), lambda: len(sender.sent) == 1
    )
    assert sender.sent[0][2] - started < 1.5


async def test_stop_does_not_wait_for_the_send_budget(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, FAST)
    # A flood answer from Telegram has paused every send for two minutes.
    engine._paused_until = time.monotonic() + 120
    engine.start()
    # The delivery is claimed; its lane waits for the pause.
    await wait_until(lambda: engine.queued == 1, what="the delivery claimed")
    started = time.monotonic()
    await asyncio.wait_for(engine.stop(), timeout=5)
    assert time.monotonic() - started < 2
    assert (await store.stats()).deliveries_pending == 1


async def test_an_outage_is_probed_one_send_at_a_time(store: SqliteStore) -> None:
    for chat_id in range(1, 41):
        await add_chat(store, chat_id, "Japan")
    await publish(store, (1, ["Japan"]))
    down_until = time.monotonic() + 2.0
    sender = FakeSender(latency=0.05)

    def outage() -> Exception | None:
        return NetworkError("Connection refused") if time.monotonic() < down_until else None

    sender.fail_all = outage
    await run_until(DeliveryEngine(store, sender, FAST), lambda: len(sender.sent) == 40)
    calls = sorted(sender.calls, key=lambda call: call.started)
    # The outage shows at the OUTAGE_AFTER_FAILURES-th failure in a row.
    recognised = sorted(call.ended for call in calls if call.error)[OUTAGE_AFTER_FAILURES - 1]
    # The sends already under way then end; everything else waits out the first pause, then
    # one probe at a time goes, each alone, each after a pause.
    probes = [call for call in calls if recognised + FAST.outage_max_backoff <= call.started]
    probes_while_down = [call for call in probes if call.started < down_until]
    assert len(probes_while_down) >= 2, calls
    for probe in probes_while_down:
        alongside = [
            call
            for call in calls
            if call is not probe and call.started < probe.ended and call.ended > probe.started
        ]
        assert alongside == [], (probe, alongside)
    for before, after in itertools.pairwise(probes_while_down):
        assert after.started - before.ended >= FAST.outage_max_backoff
    assert len([call for call in calls if call.started < down_until]) < 40 + 10
    assert (await store.stats()).deliveries_failed == 0
