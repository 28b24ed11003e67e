"""What an alert says: phrases of bot/texts in the admin's language, times in UTC, durations in
words, several notices in one message within Telegram's limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.texts.cut import cut_html
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from bot.texts.replies import Html, plain, render

# Between two notices of one message.
SEPARATOR = "\n\n"
# Room kept at the end of a message for the line that counts the notices left out.
_MORE_ROOM = 200


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time, said in words of the admin's language."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time (Unix seconds), said in UTC."""

    timestamp: float


@dataclass(frozen=True, slots=True)
class Phrase:
    """One text of bot/texts with its values (Duration and Moment are worded per language)."""

    text: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notice:
    """What the admins are told about one incident starting or ending: its phrases, one a
    line. `incident` names it in the log."""

    incident: str
    phrases: tuple[Phrase, ...]


def describe_duration(seconds: float, language: str) -> str:
    """`45 s`, `7 min`, `2 h 5 min`, `3 d 4 h` (in the admin's language)."""
    whole = max(0, round(seconds))
    if whole < 60:
        return plain("duration_seconds", language, count=whole)
    minutes = whole // 60
    if minutes < 60:
        return plain("duration_minutes", language, count=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return plain("duration_hours", language, hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return plain("duration_days", language, days=days, hours=hours)


def describe_moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _worded(value: object, language: str) -> object:
    if isinstance(value, Duration):
        return describe_duration(value.seconds, language)
    if isinstance(value, Moment):
        return describe_moment(value.timestamp)
    return value


def render_notice(notice: Notice, language: str) -> Html:
    """The notice as Telegram HTML: every value escaped by `render`."""
    lines = [
        render(
            phrase.text,
            language,
            **{name: _worded(value, language) for name, value in phrase.values.items()},
        )
        for phrase in notice.phrases
    ]
    return Html("\n".join(lines))


def compose(notices: Sequence[Notice], language: str, limit: int = MESSAGE_LIMIT) -> Html:
    """The notices as one message within `limit` UTF-16 units: those that do not fit are
    counted in a last line (so that a hundred feeds failing at once make one message, not a
    hundred). A notice longer than the whole message on its own is cut (cut_html)."""
    parts: list[str] = []
    used = 0
    for index, notice in enumerate(notices):
        text: str = render_notice(notice, language)
        cost = utf16_len(text) + (utf16_len(SEPARATOR) if parts else 0)
        room = limit - (_MORE_ROOM if index < len(notices) - 1 else 0)
        if parts and used + cost > room:
            parts.append(render("alert_more", language, count=len(notices) - index))
            break
        if not parts and cost > room:
            text = cut_html(text, room)
            cost = utf16_len(text)
        parts.append(text)
        used += cost
    return Html(SEPARATOR.join(parts))
