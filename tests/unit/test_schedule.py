from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.delivery.schedule import ScheduleError, parse_quiet_hours, parse_timezone, release_time
from storage.models import ChatSettings, DeliveryMode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        ("europe/moscow", "Europe/Moscow"),
        ("America/New York", "America/New_York"),
        ("UTC", "UTC"),
        ("+3", "+03:00"),
        ("UTC+03:00", "+03:00"),
        ("GMT-5:30", "-05:30"),
        ("-0530", "-05:30"),
        ("+0", "UTC"),
    ],
)
def test_time_zones_by_name_or_offset(raw: str, expected: str) -> None:
    assert parse_timezone(raw) == expected


@pytest.mark.parametrize("raw", ["", "Mars/Olympus", "+15", "UTC+3:75", "abc"])
def test_unknown_time_zones_are_refused(raw: str) -> None:
    with pytest.raises(ScheduleError):
        parse_timezone(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("23:00-07:00", (1380, 420)),
        ("23-7", (1380, 420)),
        ("22.30–06.45", (1350, 405)),
        ("0:00 to 8:00", (0, 480)),
        ("off", None),
    ],
)
def test_quiet_hours_forms(raw: str, expected: tuple[int, int] | None) -> None:
    assert parse_quiet_hours(raw) == expected


@pytest.mark.parametrize("raw", ["23:00", "7-7", "25-3", "23:61-07:00", "night"])
def test_bad_quiet_hours_are_refused(raw: str) -> None:
    with pytest.raises(ScheduleError):
        parse_quiet_hours(raw)


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_instant_without_quiet_hours_goes_now() -> None:
    assert release_time(ChatSettings(), at(3)) is None


def test_quiet_hours_across_midnight_hold_until_their_end() -> None:
    quiet = ChatSettings(quiet_start=23 * 60, quiet_end=7 * 60)
    assert release_time(quiet, at(23, 30)) == at(7, day=2)
    assert release_time(quiet, at(2)) == at(7)
    assert release_time(quiet, at(7)) is None
    assert release_time(quiet, at(22, 59)) is None


def test_quiet_hours_follow_the_chat_time_zone() -> None:
    quiet = ChatSettings(timezone="Europe/Moscow", quiet_start=23 * 60, quiet_end=7 * 60)
    assert release_time(quiet, at(21)) == at(4, day=2)  # midnight in Moscow, until 07:00 there


def test_hourly_digest_goes_at_the_next_full_hour() -> None:
    assert release_time(ChatSettings(mode=DeliveryMode.HOURLY), at(10, 20)) == at(11)


def test_daily_digest_goes_at_its_local_hour_today_or_tomorrow() -> None:
    daily = ChatSettings(mode=DeliveryMode.DAILY, digest_hour=9, timezone="+03:00")
    assert release_time(daily, at(5)) == at(6)
    assert release_time(daily, at(6)) == at(6, day=2)


def test_a_digest_inside_quiet_hours_waits_for_their_end() -> None:
    daily = ChatSettings(
        mode=DeliveryMode.DAILY, digest_hour=6, quiet_start=23 * 60, quiet_end=7 * 60
    )
    assert release_time(daily, at(12)) == at(7, day=2)


def test_daily_digest_on_the_day_clocks_change() -> None:
    # 29 March 2026: Europe/Berlin moves from +01:00 to +02:00 at 02:00 local time.
    daily = ChatSettings(mode=DeliveryMode.DAILY, digest_hour=9, timezone="Europe/Berlin")
    release = release_time(daily, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert release == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
