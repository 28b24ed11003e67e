from __future__ import annotations

import time
from datetime import timedelta

import pytest
from telegram.error import RetryAfter

from bot.delivery.ratelimit import DELIVERY, REPLY_ATTEMPTS, ReplyAccounting, SendBudget


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


class RefusedTimes:
    """A request Telegram refuses with 429 the first `times` times."""

    def __init__(self, times: int, retry_after: float) -> None:
        self.left = times
        self.calls = 0
        self.retry_after = timedelta(seconds=retry_after)

    async def __call__(self) -> bool:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise RetryAfter(self.retry_after)
        return True


async def test_a_reply_refused_with_429_goes_again_after_the_pause() -> None:
    request = RefusedTimes(1, retry_after=0.2)
    started = time.monotonic()
    assert await ReplyAccounting(SendBudget(rate=30)).process_request(
        request, (), {}, "sendMessage", {}, None
    )
    assert request.calls == 2
    assert time.monotonic() - started >= 0.2


async def test_a_reply_refused_again_and_again_reaches_the_error_handler() -> None:
    request = RefusedTimes(REPLY_ATTEMPTS, retry_after=0.05)
    with pytest.raises(RetryAfter):
        await ReplyAccounting(SendBudget(rate=30)).process_request(
            request, (), {}, "sendMessage", {}, None
        )
    assert request.calls == REPLY_ATTEMPTS


async def test_a_long_pause_is_not_waited_out_by_a_reply() -> None:
    request = RefusedTimes(1, retry_after=120)
    with pytest.raises(RetryAfter):
        await ReplyAccounting(SendBudget(rate=30)).process_request(
            request, (), {}, "sendMessage", {}, None
        )
    assert request.calls == 1


async def test_a_delivery_refused_with_429_is_left_to_the_engine() -> None:
    request = RefusedTimes(1, retry_after=0.05)
    with pytest.raises(RetryAfter):
        await ReplyAccounting(SendBudget(rate=30)).process_request(
            request, (), {}, "sendMessage", {}, DELIVERY
        )
    assert request.calls == 1


def test_slots_are_evenly_spaced() -> None:
    budget = SendBudget(rate=4)
    budget.take()
    first = budget.next_slot
    budget.take()
    assert abs(budget.next_slot - first - 0.25) < 1e-6
