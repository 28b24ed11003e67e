"""Scheduled stories and the report per story, in words: the same lines for `tagwire story` /
`tagwire stories` (plain English) and the admins' /story (Telegram HTML, English or Russian),
from the `report_*` messages of the catalogues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.texts.plain import MESSAGE_LIMIT, cut_at_word, utf16_len
from bot.texts.replies import DEFAULT_LANGUAGE, bold, plain, render
from storage.models import EditFigures, ScheduledStory, StoryReport

# A failure's reason as shown (Telegram's descriptions are short; a network error's may not be).
_REASON_SHOWN = 200
_TITLE_SHOWN = 120


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float, language: str = DEFAULT_LANGUAGE) -> str:
    """1.2 s, 3 min 5 s, 2 h 3 min."""
    if seconds < 60:
        return plain("report_duration_seconds", language, value=f"{seconds:.1f}")
    whole = round(seconds)
    if whole < 3600:
        return plain("report_duration_minutes", language, minutes=whole // 60, seconds=whole % 60)
    return plain("report_duration_hours", language, hours=whole // 3600, minutes=whole % 3600 // 60)


def describe_schedule(schedule: ScheduledStory, language: str, say: Callable[..., str]) -> str:
    if schedule.cancelled_at is not None:
        return say(
            "report_cancelled",
            language,
            when=when(schedule.cancelled_at),
            due=when(schedule.publish_at),
        )
    if schedule.released_at is not None:
        return say(
            "report_released",
            language,
            due=when(schedule.publish_at),
            released=when(schedule.released_at),
        )
    return say("report_held", language, due=when(schedule.publish_at))


def report_lines(
    report: StoryReport, language: str = DEFAULT_LANGUAGE, *, html: bool = False
) -> list[str]:
    """The report as lines: Telegram HTML (values escaped) with `html`, else plain text."""
    say: Callable[..., str] = render if html else plain
    article = report.article
    title = cut_at_word(article.title, _TITLE_SHOWN)
    heading = plain("report_heading", language, id=article.id, title=title)
    lines = [bold(heading) if html else heading, say("report_url", language, url=article.url)]
    schedule = report.schedule
    if schedule is not None:
        lines.append(describe_schedule(schedule, language, say))
        if schedule.released_at is None:
            return lines
    if report.chats == 0:
        lines.append(say("report_no_chats", language))
        return lines
    skipped = report.skipped_muted + report.skipped_inactive
    lines.append(
        say(
            "report_counts",
            language,
            chats=report.chats,
            sent=report.sent,
            pending=report.pending,
            skipped=skipped,
            failed=report.failed,
        )
    )
    if report.held:
        lines.append(say("report_held_pending", language, count=report.held))
    if skipped:
        lines.append(
            say(
                "report_skipped",
                language,
                muted=report.skipped_muted,
                inactive=report.skipped_inactive,
            )
        )
    for reason, count in report.failures:
        shown = cut_at_word(reason, _REASON_SHOWN) or plain("report_no_reason", language)
        lines.append(say("report_failure", language, count=count, reason=shown))
    if report.first_sent_at is not None and report.last_sent_at is not None:
        lines.append(
            say(
                "report_sends",
                language,
                first=when(report.first_sent_at),
                last=when(report.last_sent_at),
            )
        )
    half = report.half_after
    lines.append(
        say("report_half", language, after=duration(half, language))
        if half is not None
        else say("report_half_not_yet", language)
    )
    everyone = report.all_after
    if everyone is not None:
        lines.append(say("report_all", language, after=duration(everyone, language)))
    elif report.pending:
        lines.append(say("report_all_not_yet", language, pending=report.pending))
    else:
        lines.append(say("report_all_never", language, missed=skipped + report.failed))
    if report.edits is not None:
        lines.extend(edit_lines(report.edits, language, say))
    return lines


def edit_lines(edits: EditFigures, language: str, say: Callable[..., str]) -> list[str]:
    """A story's corrections and retraction, as report lines."""
    lines = []
    if edits.corrections:
        lines.append(
            say(
                "report_corrections",
                language,
                corrections=edits.corrections,
                edited=edits.edited,
                unchanged=edits.unchanged,
                pending=edits.edits_pending,
            )
        )
    if edits.retracted_at is not None:
        lines.append(
            say(
                "report_retracted",
                language,
                when=when(edits.retracted_at),
                cancelled=edits.cancelled,
                deleted=edits.deleted,
                noted=edits.noted,
                pending=edits.deletes_pending,
            )
        )
    if edits.skipped:
        lines.append(say("report_edits_skipped", language, count=edits.skipped))
    for reason, count in edits.failures:
        shown = cut_at_word(reason, _REASON_SHOWN) or plain("report_no_reason", language)
        lines.append(say("report_edit_failure", language, count=count, reason=shown))
    return lines


def report_message(report: StoryReport, language: str) -> str:
    """The report as one Telegram message (HTML, at most MESSAGE_LIMIT UTF-16 units): failure
    reasons go first, then the URL, when the rest would not fit."""
    lines = report_lines(report, language, html=True)
    text = "\n".join(lines)
    while utf16_len(text) > MESSAGE_LIMIT and len(lines) > 2:
        failures = [i for i, line in enumerate(lines) if line.startswith("✗")]
        del lines[failures[-1] if failures else 1]
        text = "\n".join(lines)
    return text


def scheduled_line(schedule: ScheduledStory) -> str:
    """A held story as `tagwire stories --scheduled` lists it (plain text)."""
    article = schedule.article
    quiet = "" if schedule.notify else " (no notification)"
    return (
        f"{when(schedule.publish_at)}{quiet}  {article.url}\n"
        f"  {article.title}\n"
        f"  tags: {', '.join(article.tags)}"
    )
