from __future__ import annotations

import time

from bot.ratelimit import DELIVERY, ReplyAccounting, SendBudget


async def ok() -> bool:
    return True


async def test_replies_take_slots_from_the_shared_budget() -> None:
    budget = SendBudget(rate=10)
    accounting = ReplyAccounting(budget)
    started = time.monotonic()
    for _ in range(10):
        assert await accounting.process_request(ok, (), {}, "sendMessage", {}, None)
    # Ten replies at 10 a second: deliveries must wait about a second for the next slot.
    assert budget.next_slot - started >= 0.95


async def test_deliveries_and_non_messages_are_not_counted_twice() -> None:
    budget = SendBudget(rate=10)
    accounting = ReplyAccounting(budget)
    await accounting.process_request(ok, (), {}, "sendMessage", {}, DELIVERY)
    await accounting.process_request(ok, (), {}, "answerCallbackQuery", {}, None)
    await accounting.process_request(ok, (), {}, "getUpdates", {}, None)
    assert budget.next_slot == 0.0


def test_slots_are_evenly_spaced() -> None:
    budget = SendBudget(rate=4)
    budget.take()
    first = budget.next_slot
    budget.take()
    assert abs(budget.next_slot - first - 0.25) < 1e-6
