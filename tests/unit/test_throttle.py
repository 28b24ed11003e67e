from __future__ import annotations

from bot.throttle import CommandThrottle


def test_commands_within_the_limit_pass() -> None:
    throttle = CommandThrottle(per_minute=3)
    assert all(throttle.check(1, now).allowed for now in (0.0, 1.0, 2.0))


def test_a_flood_is_refused_and_told_once() -> None:
    throttle = CommandThrottle(per_minute=3)
    for now in (0.0, 1.0, 2.0):
        throttle.check(1, now)
    first, second = throttle.check(1, 3.0), throttle.check(1, 4.0)
    assert (first.allowed, first.tell) == (False, True)
    assert (second.allowed, second.tell) == (False, False)
    assert 56 < first.retry_in <= 57


def test_the_window_slides() -> None:
    throttle = CommandThrottle(per_minute=2)
    throttle.check(1, 0.0)
    throttle.check(1, 30.0)
    assert not throttle.check(1, 59.0).allowed
    assert throttle.check(1, 60.5).allowed


def test_users_are_counted_apart() -> None:
    throttle = CommandThrottle(per_minute=1)
    assert throttle.check(1, 0.0).allowed
    assert throttle.check(2, 0.0).allowed
    assert not throttle.check(1, 0.1).allowed
