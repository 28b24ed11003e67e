from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from bot.delivery.config import DeliveryConfig
from bot.delivery.engine import OUTAGE_AFTER_FAILURES, DeliveryEngine
from bot.delivery.ratelimit import SendBudget
from storage.models import ChatSettings
from storage.sqlite import SqliteStore
from tests.conftest import add_chat
from tests.storage.direct import read_row
from tests.support.engine import (
    Claims,
    FakeSender,
    fast_config,
    publish,
    run_until,
    run_until_settled,
    wait_until,
)

FAST = fast_config(private_interval=0.05, group_interval=0.15, outage_max_backoff=0.4)


async def test_each_delivery_is_sent_once_and_marked_sent(store: SqliteStore) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(store, chat_id, "Japan")
    await publish(store, (1, ["Japan"]), (2, ["Japan", "Russia"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, FAST)
    await run_until_settled(engine, store)
    stats = await store.stats()
    assert (stats.deliveries_sent, stats.deliveries_pending) == (6, 0)
    assert sorted(chat for chat, _, _ in sender.sent) == [1, 1, 2, 2, 3, 3]
    assert "Story 1" in sender.to(1)[0]


async def test_one_chat_receives_in_order_and_spaced(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, *[(n, ["Japan"]) for n in range(1, 4)])
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, FAST)
    await run_until(engine, lambda: len(sender.sent) == 3)
    assert all(f"Story {n}</b>" in text for n, text in zip(range(1, 4), sender.to(1), strict=True))
    times = [at for _, _, at in sender.sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= FAST.private_interval * 0.9


async def test_more_than_three_at_once_go_out_as_one_message(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(combine_bursts=True))
    await publish(store, *[(n, ["Japan"]) for n in range(1, 6)])
    sender = FakeSender()
    # Until every delivery has its outcome: no other message can follow.
    await run_until_settled(DeliveryEngine(store, sender, FAST), store)
    assert len(sender.sent) == 1
    text = sender.to(1)[0]
    assert text.startswith("<b>5 new stories</b>")
    positions = [text.index(f">Story {n}</a>") for n in range(1, 6)]
    assert positions == sorted(positions)
    assert (await store.stats()).deliveries_sent == 5


async def test_group_chats_are_spaced_wider_than_private_ones(store: SqliteStore) -> None:
    await add_chat(store, -5, "Japan", chat_type="group")
    await publish(store, *[(n, ["Japan"]) for n in range(1, 4)])
    sender = FakeSender()
    await run_until(DeliveryEngine(store, sender, FAST), lambda: len(sender.sent) == 3)
    times = [at for _, _, at in sender.sent]
    assert times[2] - times[0] >= 2 * FAST.group_interval * 0.9


async def test_overall_rate_is_never_exceeded(store: SqliteStore) -> None:
    for chat_id in range(1, 31):
        await add_chat(store, chat_id, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender()
    config = fast_config(rate_limit=50)
    await run_until(DeliveryEngine(store, sender, config), lambda: len(sender.sent) == 30)
    times = sorted(at for _, _, at in sender.sent)
    # 30 sends at 50/s take at least 29 intervals of 20 ms.
    assert times[-1] - times[0] >= 29 / 50 * 0.95
    for start in times:
        assert sum(1 for t in times if start <= t < start + 0.2) <= 50 * 0.2 + 1


async def test_requests_overlap_so_slow_calls_keep_the_rate(store: SqliteStore) -> None:
    for chat_id in range(1, 41):
        await add_chat(store, chat_id, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender(latency=0.2)
    config = fast_config(rate_limit=100)
    started = time.monotonic()
    await run_until(DeliveryEngine(store, sender, config), lambda: len(sender.sent) == 40)
    # One at a time this would take 40 × 0.2 s = 8 s.
    assert time.monotonic() - started < 2.0
    assert sender.max_in_flight > 5


async def test_429_waits_and_retries_the_same_message(store: SqliteStore) -> None:
    await add_chat(store, -7, "Japan", chat_type="supergroup")
    await add_chat(store, 2, "Japan")
    await publish(store, (1, ["Japan"]), (2, ["Japan"]))
    # Neither 1 s nor a backoff step (1, 2, 4 s): only retry_after itself passes.
    retry_after = 3
    sender = FakeSender(failures={-7: [RetryAfter(retry_after)]})
    engine = DeliveryEngine(store, sender, FAST)
    await run_until(engine, lambda: len(sender.sent) == 4)
    (refused,) = sender.failed_calls()
    retried = next(call for call in sender.calls if call.chat_id == -7 and call is not refused)
    assert retried.started - refused.ended >= retry_after
    # Not much later either (a generous margin for a loaded machine).
    assert retried.started - refused.ended < retry_after + 2
    assert ["Story 1" in t for t in sender.to(-7)] == [True, False]
    # A group's 429 does not hold back the others: chat 2 got its story meanwhile.
    assert next(at for chat, _, at in sender.sent if chat == 2) < retried.started
    assert engine.counters.failed == {"429": 1}


async def test_a_private_chats_429_pauses_every_send(store: SqliteStore) -> None:
    # A private chat is held to one message a second, so its 429 is the bot-wide limit.
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await publish(store, *[(n, ["Japan"]) for n in range(1, 4)])
    retry_after = 2
    sender = FakeSender(failures={1: [RetryAfter(retry_after)]})
    await run_until(DeliveryEngine(store, sender, FAST), lambda: len(sender.sent) == 6)
    (refused,) = sender.failed_calls()
    later = [call.started for call in sender.calls if call.started >= refused.ended]
    # Chat 2's next stories were due 0.05 s apart; every send waited out the pause instead.
    assert len(later) >= 3
    assert min(later) - refused.ended >= retry_after


async def test_blocked_chat_becomes_inactive_and_others_still_receive(
    store: SqliteStore,
) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(store, chat_id, "Japan")
    await publish(store, *[(n, ["Japan"]) for n in range(1, 4)])
    sender = FakeSender(failures={2: [Forbidden("Forbidden: bot was blocked by the user")]})
    gone: list[int] = []
    engine = DeliveryEngine(store, sender, FAST, on_chat_gone=gone.append)
    await run_until_settled(engine, store, lambda: len(sender.sent) == 6)
    assert sender.to(2) == []
    assert gone == [2]
    chat = await store.get_chat(2)
    assert chat is not None
    assert not chat.active
    stats = await store.stats()
    assert (stats.deliveries_sent, stats.deliveries_pending) == (6, 0)
    assert [t.name for t in await store.followed_tags(2)] == ["Japan"]


async def test_chat_not_found_counts_as_gone(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender(failures={1: [BadRequest("Chat not found")]})
    engine = DeliveryEngine(store, sender, FAST)

    async def inactive() -> bool:
        chat = await store.get_chat(1)
        assert chat is not None
        return not chat.active

    engine.start()
    try:
        await wait_until(inactive, what="chat 1 set aside")
    finally:
        await engine.stop()
    assert sender.sent == []
    assert (await store.stats()).deliveries_pending == 0


async def test_migrated_group_is_moved_and_served_at_its_new_id(store: SqliteStore) -> None:
    await add_chat(store, -10, "Japan", chat_type="group")
    await publish(store, (1, ["Japan"]), (2, ["Japan"]))
    sender = FakeSender(failures={-10: [ChatMigrated(-10010)]})
    await run_until(DeliveryEngine(store, sender, FAST), lambda: len(sender.sent) == 2)
    assert len(sender.to(-10010)) == 2
    assert "Story 1" in sender.to(-10010)[0]
    assert [t.name for t in await store.followed_tags(-10010)] == ["Japan"]
    await publish(store, (3, ["Japan"]))
    assert (await store.claim_due(time.time(), 10, 60))[0].chat_id == -10010


async def test_message_telegram_refuses_is_failed_with_its_error(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]), (2, ["Japan"]))
    sender = FakeSender(failures={1: [BadRequest("Can't parse entities: bad")]})
    await run_until_settled(DeliveryEngine(store, sender, FAST), store)
    stats = await store.stats()
    assert (stats.deliveries_failed, stats.deliveries_sent) == (1, 1)


async def test_a_failing_message_gives_up_after_bounded_attempts(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    for chat_id in range(2, 102):
        await add_chat(store, chat_id, "Other")
    await publish(store, (1, ["Japan"]))
    await publish(store, (2, ["Other"]))
    config = fast_config(private_interval=0.01, max_attempts=3, max_backoff=0.05)
    sender = FakeSender(failures={1: [NetworkError("Bad Gateway")] * 10}, latency=0.01)
    engine = DeliveryEngine(store, sender, config)
    engine.start()
    deadline = time.monotonic() + 10
    while (await store.stats()).deliveries_failed == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await engine.stop()
    assert len(sender.failures[1]) == 10 - config.max_attempts
    assert sender.to(1) == []


async def test_an_outage_does_not_use_up_attempts(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await publish(store, (1, ["Japan"]))
    down_until = time.monotonic() + 1.5
    calls: list[float] = []

    def outage() -> Exception | None:
        calls.append(time.monotonic())
        return NetworkError("Connection refused") if time.monotonic() < down_until else None

    # An outage may cost a story the attempts before it is recognised as one, no more.
    config = fast_config(
        max_attempts=OUTAGE_AFTER_FAILURES, max_backoff=0.05, outage_max_backoff=0.2
    )
    sender = FakeSender(fail_all=outage)
    await run_until(DeliveryEngine(store, sender, config), lambda: len(sender.sent) == 1)
    failed_calls = [at for at in calls if at < down_until]
    assert len(failed_calls) > config.max_attempts
    assert (await store.stats()).deliveries_failed == 0


async def test_a_busy_chat_does_not_starve_the_others(store: SqliteStore) -> None:
    await add_chat(store, -20, "Busy", chat_type="group")
    await publish(store, *[(n, ["Busy"]) for n in range(1, 60)])
    await add_chat(store, 2, "Quiet")
    await publish(store, (100, ["Quiet"]))
    sender = FakeSender()
    config = fast_config(group_interval=0.5, claim_batch=20)
    engine = DeliveryEngine(store, sender, config)
    await run_until(engine, lambda: len(sender.to(2)) == 1, within=3)
    assert len(sender.to(-20)) <= 4


async def test_stop_gives_back_claims_and_a_new_engine_resumes(store: SqliteStore) -> None:
    await add_chat(store, -30, "Japan", chat_type="group")
    await publish(store, *[(n, ["Japan"]) for n in range(1, 4)])
    sender = FakeSender()
    config = fast_config(group_interval=0.3)
    first = DeliveryEngine(store, sender, config)
    first.start()
    try:
        await wait_until(lambda: len(sender.sent) >= 1)
    finally:
        await first.stop()
    sent_first = len(sender.sent)
    assert 1 <= sent_first < 3
    await run_until(DeliveryEngine(store, sender, config), lambda: len(sender.sent) == 3)
    texts = sender.to(-30)
    assert all(f"Story {n}</b>" in text for n, text in zip(range(1, 4), texts, strict=True))


async def test_wake_delivers_without_waiting_for_the_poll(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    sender = FakeSender()
    config = fast_config(poll_interval=30)
    engine = DeliveryEngine(store, sender, config)
    claims = Claims(store)
    engine.start()
    try:
        # The engine looked at the empty outbox; the next poll is 30 s away.
        await wait_until(lambda: claims.count >= 1)
        await publish(store, (1, ["Japan"]))
        published = time.monotonic()
        engine.wake()
        while not sender.sent:
            assert time.monotonic() - published < 2
            await asyncio.sleep(0.01)
    finally:
        await engine.stop()


async def test_a_revoked_token_loses_nothing_and_deactivates_no_chat(store: SqliteStore) -> None:
    # Telegram answers 401 to every call while the token is revoked; it comes back.
    await add_chat(store, 1, "Japan")
    await add_chat(store, -5, "Japan", chat_type="group")
    await publish(store, (1, ["Japan"]))
    revoked = True

    def token_check() -> Exception | None:
        return InvalidToken("Unauthorized") if revoked else None

    config = fast_config(
        max_attempts=OUTAGE_AFTER_FAILURES, max_backoff=0.05, outage_max_backoff=0.2
    )
    sender = FakeSender(fail_all=token_check)
    gone: list[int] = []
    engine = DeliveryEngine(store, sender, config, on_chat_gone=gone.append)
    engine.start()
    try:
        # More refusals than a story's attempts: none of them may count as one.
        await wait_until(lambda: len(sender.failed_calls()) > config.max_attempts + 1)
        revoked = False
        await wait_until(lambda: len(sender.sent) == 2)
    finally:
        await engine.stop()
    assert gone == []
    for chat_id in (1, -5):
        chat = await store.get_chat(chat_id)
        assert chat is not None
        assert chat.active
    stats = await store.stats()
    assert (stats.deliveries_sent, stats.deliveries_failed, stats.deliveries_pending) == (2, 0, 0)


@pytest.mark.parametrize("rate", [25.0, 1000.0])
def test_in_flight_scales_with_the_rate(rate: float) -> None:
    assert DeliveryConfig(rate_limit=rate).max_in_flight >= rate * 0.5


async def test_a_retried_error_is_kept_on_the_delivery_row(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await publish(store, (1, ["Japan"]))
    sender = FakeSender(failures={1: [NetworkError("Bad Gateway")]})
    config = fast_config(private_interval=0.01, max_backoff=0.05)
    await run_until(DeliveryEngine(store, sender, config), lambda: len(sender.sent) == 2)
    row = await read_row(
        store, "SELECT attempts, last_error, status FROM deliveries WHERE chat_id = 1"
    )
    assert row == (2, "Bad Gateway", "sent")


async def test_replies_slow_the_deliveries_down(store: SqliteStore) -> None:
    for chat_id in range(1, 6):
        await add_chat(store, chat_id, "Japan")
    await publish(store, (1, ["Japan"]))
    budget = SendBudget(rate=10)
    for _ in range(10):
        budget.take()  # ten replies just went out
    sender = FakeSender()
    config = fast_config(rate_limit=10)
    started = time.monotonic()
    await run_until(
        DeliveryEngine(store, sender, config, budget=budget), lambda: len(sender.sent) == 5
    )
    assert min(at for _, _, at in sender.sent) - started >= 0.9
