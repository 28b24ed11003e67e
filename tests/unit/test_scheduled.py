"""Scheduled stories and the report per story, one piece at a time: when a pushed story or a
feed's entry is held (publish_at, published_at past the tolerance), the report's arithmetic, and
its words in both languages (valid Telegram HTML within 4096 units, whatever the reasons and
the URL)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from bot.emulator import parse_html
from bot.errors import InvalidArticle
from bot.intake.feeds import FeedPoller
from bot.intake.validation import SCHEDULE_TOLERANCE, validate_article
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from bot.texts.replies import LANGUAGES
from bot.texts.report import duration, report_lines, report_message, scheduled_line
from storage.base import Store
from storage.models import Article, ScheduledStory, StoryReport
from tests.conftest import add_chat
from tests.support.feed_server import FeedServer
from tests.support.feeds import add_feed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RECORD = {"url": "https://news.example.com/a", "title": "A story", "tags": ["Japan"]}


def held_until(**fields: Any) -> datetime | None:
    return validate_article({**RECORD, **fields}, now=NOW).publish_at


def at(seconds: float) -> str:
    return (NOW + timedelta(seconds=seconds)).isoformat()


def test_a_publish_at_ahead_holds_the_story_to_the_second() -> None:
    assert held_until(publish_at=at(1)) == NOW + timedelta(seconds=1)
    article = validate_article({**RECORD, "publish_at": at(3600)}, now=NOW)
    # Without a published_at, the story is dated when it goes out.
    assert article.published_at == NOW + timedelta(hours=1)


def test_a_publish_at_now_or_past_sends_at_once() -> None:
    assert held_until(publish_at=at(0)) is None
    assert held_until(publish_at=at(-3600)) is None


def test_a_published_at_ahead_holds_only_past_the_tolerance() -> None:
    # A feed's (or a pushing machine's) clock a little ahead must not hold an ordinary story.
    assert held_until(published_at=at(SCHEDULE_TOLERANCE)) is None
    assert held_until(published_at=at(SCHEDULE_TOLERANCE + 1)) == NOW + timedelta(
        seconds=SCHEDULE_TOLERANCE + 1
    )


def test_publish_at_wins_over_published_at() -> None:
    article = validate_article({**RECORD, "published_at": at(7200), "publish_at": at(-60)}, now=NOW)
    assert article.publish_at is None
    assert article.published_at == NOW + timedelta(hours=2)
    article = validate_article({**RECORD, "published_at": at(-60), "publish_at": at(600)}, now=NOW)
    assert article.publish_at == NOW + timedelta(minutes=10)
    assert article.published_at == NOW - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"publish_at": "2026-11-29T13:00:00"}, "publish_at"),
        ({"publish_at": "tomorrow"}, "publish_at"),
        ({"publish_at": at(367 * 86400)}, "publish_at"),
        ({"published_at": at(367 * 86400)}, "published_at"),
    ],
)
def test_a_schedule_without_a_time_zone_or_past_a_year_is_refused(
    fields: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidArticle) as caught:
        validate_article({**RECORD, **fields}, now=NOW)
    assert caught.value.field == field


ARTICLE = Article(
    id=42,
    url="https://news.example.com/a",
    title="Kuril talks <resume> & more",
    teaser="",
    source=None,
    published_at=NOW,
    tags=("Japan", "Kuril Islands"),
)


def report(**fields: Any) -> StoryReport:
    values: dict[str, Any] = {
        "article": ARTICLE,
        "schedule": None,
        "chats": 10,
        "sent": 10,
        "pending": 0,
        "held": 0,
        "skipped_muted": 0,
        "skipped_inactive": 0,
        "failed": 0,
        "failures": (),
        "queued_at": 1000.0,
        "first_sent_at": 1000.5,
        "last_sent_at": 1003.0,
        "half_sent_at": 1001.25,
    }
    values.update(fields)
    return StoryReport(**values)


def test_half_and_all_are_counted_from_the_fan_out() -> None:
    done = report()
    assert (done.half_after, done.all_after) == (1.25, 3.0)
    # One chat skipped: never "all".
    assert report(sent=9, skipped_muted=1).all_after is None
    assert report(sent=0, half_sent_at=None, first_sent_at=None, last_sent_at=None).half_after is (
        None
    )


def test_durations_read_as_a_person_would_say_them() -> None:
    assert duration(1.25) == "1.2 s"
    assert duration(185) == "3 min 5 s"
    assert duration(7380, "ru") == "2 ч 3 мин"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_of_report_is_valid_html_within_a_message(language: str) -> None:
    hostile = "<b>&amp; Tom & Jerry</i> 😀 " * 30
    schedule = ScheduledStory(ARTICLE, publish_at=2000.0, notify=True, created_at=900.0)
    kinds = [
        report(),
        report(
            sent=3,
            pending=2,
            held=1,
            skipped_muted=1,
            skipped_inactive=1,
            failed=3,
            failures=tuple((f"{hostile}{n}", 1) for n in range(10)),
            half_sent_at=None,
        ),
        report(chats=0, sent=0, first_sent_at=None, last_sent_at=None, half_sent_at=None),
        report(schedule=schedule, chats=0, sent=0, queued_at=None, half_sent_at=None),
        report(schedule=ScheduledStory(ARTICLE, 2000.0, True, 900.0, cancelled_at=1500.0)),
        report(schedule=ScheduledStory(ARTICLE, 2000.0, True, 900.0, released_at=2000.5)),
        # The longest URL a story may have, every character one HTML must escape.
        report(
            article=replace(ARTICLE, url="https://x.io/" + "&" * 2000),
            failures=tuple((hostile, 1) for _ in range(10)),
            failed=10,
            sent=0,
        ),
    ]
    for kind in kinds:
        text = report_message(kind, language)
        assert utf16_len(text) <= MESSAGE_LIMIT
        parse_html(text)
        assert text.startswith("<b>")


def test_the_command_lines_are_plain_text() -> None:
    lines = report_lines(report(skipped_muted=1, sent=9, failed=0))
    assert lines[0] == "Story 42: Kuril talks <resume> & more"
    assert "For 10 chats: 9 sent, 0 pending, 1 skipped, 0 failed." in lines
    assert "Half of its chats had it after 1.2 s." in lines
    assert "All of its chats: no, 1 did not get it (skipped or failed)." in lines
    schedule = ScheduledStory(ARTICLE, publish_at=NOW.timestamp(), notify=False, created_at=0.0)
    assert scheduled_line(schedule).splitlines() == [
        "2026-11-29 12:00:00 UTC (no notification)  https://news.example.com/a",
        "  Kuril talks <resume> & more",
        "  tags: Japan, Kuril Islands",
    ]


def rss_dated(*entries: tuple[str, float]) -> bytes:
    """An RSS feed of entries (slug, seconds from now) tagged Japan."""
    items = "".join(
        f"<item><title>Entry {slug}</title><link>https://news.example.com/{slug}</link>"
        f"<category>Japan</category><pubDate>{format_datetime(_utc(ahead), usegmt=True)}"
        "</pubDate></item>"
        for slug, ahead in entries
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
        f"<link>https://news.example.com/</link>{items}</channel></rss>"
    ).encode()


def _utc(ahead: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=ahead)


async def test_a_feed_entry_dated_ahead_is_held_past_a_minute_and_taken_as_now_past_two_days(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    await add_chat(store, 1, "Japan")
    await add_feed(store, server.serve("desk.xml", rss_dated(("first", -60))), "Desk")
    await poller.poll_all()
    server.serve(
        "desk.xml",
        rss_dated(("skewed", 30), ("embargoed", 600), ("typo", 3 * 86400)),
    )
    [result] = await poller.poll_all()
    assert result.created == 3
    held = await store.scheduled_stories(10)
    assert [schedule.article.url for schedule in held] == ["https://news.example.com/embargoed"]
    assert held[0].publish_at == pytest.approx(time.time() + 600, abs=5)
    japan = (await store.find_tags(["japan"]))["japan"]
    listed = {article.url for article in await store.latest_articles(japan.id, 10)}
    assert listed == {
        "https://news.example.com/first",
        "https://news.example.com/skewed",
        "https://news.example.com/typo",
    }
    # The two not held went to the follower; the held one waits.
    assert (await store.outbox_figures()).pending == 2
