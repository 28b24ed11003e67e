"""When a chat may receive a story: time zones, quiet hours, hourly and daily digests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from storage.models import ChatSettings, DeliveryMode

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_CLOCK = r"(\d{1,2})(?:[:.h](\d{2}))?"
_QUIET = re.compile(rf"^{_CLOCK}\s*(?:-|–|—|to)\s*{_CLOCK}$", re.IGNORECASE)
MINUTES_A_DAY = 24 * 60


class ScheduleError(ValueError):
    """A time zone or a time range that cannot be understood; the message says why, and
    `key` names that reason in the message table."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """`Europe/Moscow`, `europe/moscow`, `UTC`, `+3`, `UTC+03:00`, `-05:30` → a canonical name."""
    raw = text.strip()
    if not raw:
        raise ScheduleError("empty time zone", "reason_timezone_empty")
    if raw.casefold() in {"utc", "gmt", "z"}:
        return "UTC"
    match = _OFFSET.match(raw)
    if match:
        sign, hours, minutes = match[1], int(match[2]), int(match[3] or 0)
        if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
            raise ScheduleError("offsets run from -14:00 to +14:00", "reason_offset_range")
        if hours == 0 and minutes == 0:
            return "UTC"
        return f"{sign}{hours:02d}:{minutes:02d}"
    name = _zone_names().get(raw.casefold().replace(" ", "_"))
    if name is None:
        raise ScheduleError("unknown time zone", "reason_timezone_unknown")
    return name


def zone(name: str) -> tzinfo:
    """The tzinfo of a name from parse_timezone; UTC for anything unreadable."""
    if name and name[0] in "+-":
        sign = 1 if name[0] == "+" else -1
        hours, minutes = (int(part) for part in name[1:].split(":"))
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """`23:00-07:00`, `23-7`, `22.30–06.45` → (start, end) in minutes after midnight;
    `off` → None."""
    raw = text.strip()
    if raw.casefold() in {"off", "none", "no"}:
        return None
    match = _QUIET.match(raw)
    if not match:
        raise ScheduleError("write the hours as 23:00-07:00, or off", "reason_quiet_format")
    start = _minutes(match[1], match[2])
    end = _minutes(match[3], match[4])
    if start == end:
        raise ScheduleError("the quiet hours start and end at the same time", "reason_quiet_same")
    return start, end


def _minutes(hours: str, minutes: str | None) -> int:
    h, m = int(hours), int(minutes or 0)
    if h > 24 or m >= 60 or (h == 24 and m):
        raise ScheduleError("hours run from 00:00 to 24:00", "reason_clock_range")
    return (h * 60 + m) % MINUTES_A_DAY


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _quiet_end(settings: ChatSettings, local: datetime) -> datetime | None:
    """The end of the quiet period `local` falls in, or None when it is not quiet."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None:
        return None
    now = local.hour * 60 + local.minute
    in_quiet = start <= now < end if start < end else now >= start or now < end
    if not in_quiet:
        return None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ending = _at_local(midnight, end)
    if ending <= local:
        ending = _at_local(midnight + timedelta(days=1), end)
    return ending


def _at_local(day: datetime, minutes: int) -> datetime:
    # Build the wall time in the zone, so a DST change that day is respected.
    naive = day.replace(tzinfo=None) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=day.tzinfo).astimezone(UTC).astimezone(day.tzinfo)


def release_time(settings: ChatSettings, now: datetime) -> datetime | None:
    """When a story arriving at `now` may go to the chat: None for at once, else the UTC time
    its digest (hourly, daily, or the end of quiet hours) goes out."""
    local = now.astimezone(zone(settings.timezone))
    if settings.mode is DeliveryMode.HOURLY:
        release = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    elif settings.mode is DeliveryMode.DAILY:
        today = local.replace(hour=0, minute=0, second=0, microsecond=0)
        release = _at_local(today, settings.digest_hour * 60)
        if release <= local:
            release = _at_local(today + timedelta(days=1), settings.digest_hour * 60)
    else:
        release = local
    quiet_end = _quiet_end(settings, release)
    if quiet_end is not None:
        release = quiet_end
    if release <= local:
        return None
    return release.astimezone(UTC)
