"""The alerts (bot/alerts) one piece at a time: which incidents start and end (`decide`), how a
notice reads in both languages and within Telegram's limit, the notifier keeping what Telegram
could not take, and the monitor's memory of what it told, in the database or not."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from bot.alerts.incidents import (
    DATABASE,
    OUTBOX,
    TELEGRAM,
    Change,
    Seen,
    Thresholds,
    decide,
)
from bot.alerts.monitor import AlertMonitor
from bot.alerts.notices import Notice, Phrase, compose, describe_duration, render_notice
from bot.alerts.notifier import AdminNotifier
from bot.delivery.engine import DeliveryCounters
from bot.settings import Settings
from bot.texts.replies import LANGUAGES
from storage.base import StorageUnavailable, Store
from storage.models import Feed, Incident
from tests.support.engine import telegram_refusal
from tests.support.harness import TOKEN

LIMITS = Thresholds(feed_failures=3, pause_after=6, outbox_age=60.0, telegram_down=30.0)
ADMIN = 5001
URL = "https://user:secret@feeds.example.com/a.xml"


def incident(key: str, started_at: float = 100.0) -> Incident:
    return Incident(key, started_at, "", started_at)


def feed(
    failures: int = 0, paused_at: float | None = None, *, feed_id: int = 7, error: str = "HTTP 503"
) -> Feed:
    return Feed(
        id=feed_id,
        url=URL,
        tags=(),
        etag=None,
        last_modified=None,
        primed=True,
        created_at=10.0,
        last_success_at=50.0,
        last_error=error if failures else None,
        failures=failures,
        paused_at=paused_at,
    )


def keys(changes: list[Change]) -> list[tuple[str, bool]]:
    return [(change.key, change.starts) for change in changes]


# decide: each rule


def test_the_database_starts_once_and_ends_once() -> None:
    refused = Seen(now=200.0, database_problem="disk I/O error")
    assert keys(decide({}, refused, LIMITS)) == [(DATABASE, True)]
    assert decide({DATABASE: incident(DATABASE)}, refused, LIMITS) == []
    over = decide({DATABASE: incident(DATABASE)}, Seen(now=200.0), LIMITS)
    assert keys(over) == [(DATABASE, False)]
    assert over[0].notice is not None


def test_telegram_is_told_after_its_threshold_from_when_it_went_away() -> None:
    assert decide({}, Seen(now=129.0, telegram_down_since=100.0), LIMITS) == []
    [change] = decide({}, Seen(now=130.0, telegram_down_since=100.0), LIMITS)
    assert (change.key, change.starts, change.started_at) == (TELEGRAM, True, 100.0)
    assert (
        decide({TELEGRAM: incident(TELEGRAM)}, Seen(now=500.0, telegram_down_since=100.0), LIMITS)
        == []
    )
    assert keys(decide({TELEGRAM: incident(TELEGRAM)}, Seen(now=500.0), LIMITS)) == [
        (TELEGRAM, False)
    ]


def test_late_deliveries_are_told_unless_an_outage_told_already_explains_them() -> None:
    late = Seen(now=200.0, overdue_since=100.0, pending=12)
    assert keys(decide({}, late, LIMITS)) == [(OUTBOX, True)]
    assert decide({}, Seen(now=159.0, overdue_since=100.0), LIMITS) == []
    assert (
        decide(
            {TELEGRAM: incident(TELEGRAM)},
            replace(late, telegram_down_since=90.0),
            LIMITS,
        )
        == []
    )
    # Telegram's incident starting in the same look explains them too.
    both = Seen(now=200.0, overdue_since=100.0, telegram_down_since=100.0)
    assert keys(decide({}, both, LIMITS)) == [(TELEGRAM, True)]
    assert (
        decide(
            {DATABASE: incident(DATABASE)},
            replace(late, database_problem="x"),
            LIMITS,
        )
        == []
    )
    # After the outage, its backlog has the whole threshold to drain.
    excused = Seen(now=200.0, overdue_since=100.0, outbox_excused_until=150.0)
    assert decide({}, excused, LIMITS) == []
    assert keys(decide({}, replace(excused, now=210.0), LIMITS)) == [(OUTBOX, True)]
    # Unknown (the outbox could not be read): nothing starts or ends.
    assert decide({OUTBOX: incident(OUTBOX)}, Seen(now=200.0, outbox_known=False), LIMITS) == []
    assert keys(decide({OUTBOX: incident(OUTBOX)}, Seen(now=200.0), LIMITS)) == [(OUTBOX, False)]


def test_a_feed_is_told_at_its_streak_with_the_pause_to_come() -> None:
    assert decide({}, Seen(now=200.0, feeds=[feed(2)]), LIMITS) == []
    [change] = decide({}, Seen(now=200.0, feeds=[feed(3)]), LIMITS)
    assert (change.key, change.starts, change.started_at) == ("feed:7", True, 50.0)
    assert change.notice is not None
    text = render_notice(change.notice, "en")
    assert "secret" not in text
    assert "https://feeds.example.com/a.xml" in text
    assert "3 polls in a row have failed. The last error: HTTP 503" in text
    assert "paused (no longer polled) after 6 in a row" in text
    never = Thresholds(feed_failures=3, pause_after=0, outbox_age=60.0, telegram_down=30.0)
    [quiet] = decide({}, Seen(now=200.0, feeds=[feed(3)]), never)
    assert quiet.notice is not None
    assert "paused" not in render_notice(quiet.notice, "en")


def test_a_feed_is_over_only_when_a_poll_works_and_its_pause_ends_without_a_word() -> None:
    failing = {"feed:7": incident("feed:7")}
    # Below the streak again (a higher threshold after a restart) is not working.
    assert decide(failing, Seen(now=200.0, feeds=[feed(1)]), LIMITS) == []
    [over] = decide(failing, Seen(now=200.0, feeds=[feed(0)]), LIMITS)
    assert (over.key, over.starts) == ("feed:7", False)
    paused = decide(failing, Seen(now=200.0, feeds=[feed(6, paused_at=190.0)]), LIMITS)
    assert keys(paused) == [("feed-paused:7", True)]
    resumed = {**failing, "feed-paused:7": incident("feed-paused:7")}
    [ended] = decide(resumed, Seen(now=200.0, feeds=[feed(6)]), LIMITS)
    assert (ended.key, ended.starts, ended.notice) == ("feed-paused:7", False, None)
    # A feed removed: both end silently.
    gone = decide(resumed, Seen(now=200.0, feeds=[]), LIMITS)
    assert sorted(keys(gone)) == [("feed-paused:7", False), ("feed:7", False)]
    assert all(change.notice is None for change in gone)
    # The feeds could not be read: nothing changes.
    assert decide(resumed, Seen(now=200.0, feeds=None), LIMITS) == []


def test_only_the_database_is_looked_at_when_asked() -> None:
    seen = Seen(now=500.0, database_problem="gone", telegram_down_since=1.0, feeds=[feed(9)])
    assert keys(decide({}, seen, LIMITS, only_database=True)) == [(DATABASE, True)]


# How it reads


def every_notice() -> list[Notice]:
    open_all = {key: incident(key) for key in (DATABASE, TELEGRAM, OUTBOX, "feed:7")}
    starts = decide(
        {},
        Seen(
            now=10_000.0,
            database_problem="disk I/O error <&>",
            telegram_down_since=100.0,
            overdue_since=100.0,
            pending=3,
            feeds=[feed(6, paused_at=900.0, error="<b>broken & bad</b>")],
        ),
        LIMITS,
    )
    ends = decide(open_all, Seen(now=100_000.0, feeds=[feed(0)]), LIMITS)
    outbox = decide({}, Seen(now=10_000.0, overdue_since=100.0, pending=3), LIMITS)
    return [c.notice for c in [*starts, *ends, *outbox] if c.notice is not None]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_notice_is_valid_telegram_html_in_both_languages(language: str) -> None:
    notices = every_notice()
    assert len(notices) == 9
    for notice in notices:
        text = render_notice(notice, language)
        assert telegram_refusal(text) is None, text
    assert telegram_refusal(compose(notices, language)) is None


def test_a_hundred_feeds_failing_at_once_make_one_message() -> None:
    notices = [
        Notice(
            f"feed:{n}",
            (Phrase("alert_feed_failing", {"url": "x" * 300, "count": 3, "error": "e" * 300}),),
        )
        for n in range(100)
    ]
    for language in LANGUAGES:
        text = compose(notices, language)
        assert telegram_refusal(text) is None
        assert len(text) <= 4096
        assert "more" in text or "ещё" in text
    huge = Notice(
        "feed:1", (Phrase("alert_feed_failing", {"url": "y" * 5000, "count": 3, "error": "e"}),)
    )
    assert telegram_refusal(compose([huge], "en")) is None


@pytest.mark.parametrize(
    ("seconds", "english", "russian"),
    [
        (4.4, "4 s", "4 с"),
        (420, "7 min", "7 мин"),
        (7500, "2 h 5 min", "2 ч 5 мин"),
        (97_200, "1 d 3 h", "1 д 3 ч"),
    ],
)
def test_durations_read_in_both_languages(seconds: float, english: str, russian: str) -> None:
    assert describe_duration(seconds, "en") == english
    assert describe_duration(seconds, "ru") == russian


# The notifier


@dataclass
class FakeBot:
    """send_message and get_me as the Bot has them, failing as the test says."""

    fail_with: list[BaseException] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    probe_error: BaseException | None = None
    probes: int = 0

    async def send_message(self, **values: Any) -> None:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(values)

    async def get_me(self, **_: Any) -> None:
        self.probes += 1
        if self.probe_error is not None:
            raise self.probe_error


async def english() -> Mapping[int, str]:
    return {}


def notice(key: str = "telegram") -> Notice:
    return Notice(key, (Phrase("alert_database", {"reason": "disk full"}),))


async def test_a_message_telegram_could_not_take_waits_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    bot = FakeBot(fail_with=[NetworkError("Bad Gateway"), TimedOut("timed out")])
    notifier = AdminNotifier(bot, {ADMIN}, english, spacing=0.0)  # type: ignore[arg-type]
    await notifier.announce([notice()])
    await notifier.flush()
    assert (bot.sent, notifier.waiting) == ([], 1)
    await notifier.flush()
    assert [m["chat_id"] for m in bot.sent] == [ADMIN]
    assert bot.sent[0]["parse_mode"] == "HTML"
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.alerts.notifier"]
    assert lines == [
        f"alert (telegram) to admin {ADMIN} not delivered (Bad Gateway); it is sent again when "
        "Telegram takes it",
        f"alert (telegram) delivered to admin {ADMIN} at try 3",
    ]


async def test_a_message_refused_for_good_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = FakeBot(
        fail_with=[
            Forbidden("Forbidden: bot was blocked by the user"),
            BadRequest("can't parse entities"),
        ]
    )
    notifier = AdminNotifier(bot, {ADMIN, ADMIN + 1}, english, spacing=0.0)  # type: ignore[arg-type]
    await notifier.announce([notice()])
    assert notifier.waiting == 0
    assert bot.sent == []
    assert (
        "dropped: the admin has not started a private chat with the bot, or blocked it"
        in caplog.text
    )
    assert "(can't parse entities); dropped" in caplog.text
    notifier.abandon()


async def test_what_never_went_out_is_logged_at_stop(caplog: pytest.LogCaptureFixture) -> None:
    bot = FakeBot(fail_with=[NetworkError("down")] * 3)
    notifier = AdminNotifier(bot, {ADMIN}, english, spacing=0.0)  # type: ignore[arg-type]
    await notifier.announce([notice("outbox")])
    notifier.add(notice("feed:1"))
    notifier.abandon()
    assert notifier.waiting == 0
    assert f"alert (outbox) to admin {ADMIN} not delivered before stopping" in caplog.text
    assert "alert (feed:1) not delivered before stopping" in caplog.text


async def test_messages_to_one_admin_are_spaced(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("bot.alerts.notifier.asyncio.sleep", sleep)
    bot = FakeBot()
    notifier = AdminNotifier(bot, {ADMIN}, english, spacing=1.0)  # type: ignore[arg-type]
    await notifier.announce([notice("a")])
    await notifier.announce([notice("b")])
    assert len(bot.sent) == 2
    assert len(waits) == 1
    assert 0.9 < waits[0] <= 1.0


# The monitor


@dataclass
class FakeEngine:
    unreachable_since: float | None = None
    counters: DeliveryCounters = field(default_factory=DeliveryCounters)


def monitor_for(store: Store, bot: FakeBot, engine: FakeEngine, now: list[float]) -> AlertMonitor:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=TOKEN,
        admin_ids=frozenset({ADMIN}),
        alert_telegram_down=30.0,
        alert_check_interval=1.0,
        private_chat_interval=0.0,
    )
    return AlertMonitor(store, bot, engine, settings, clock=lambda: now[0])  # type: ignore[arg-type]


async def test_an_incident_a_previous_leader_told_is_told_over_by_the_next(store: Store) -> None:
    await store.open_incident(TELEGRAM, 100.0, "unreachable", 150.0)
    bot = FakeBot()
    monitor = monitor_for(store, bot, FakeEngine(), [1_000.0])
    await monitor.check()
    [message] = bot.sent
    assert "Telegram reachable again" in message["text"]
    assert await store.incidents() == []
    await monitor.check()
    assert len(bot.sent) == 1


async def test_telegram_is_down_from_the_first_failed_probe_and_probed_sparingly(
    store: Store,
) -> None:
    bot = FakeBot(probe_error=NetworkError("Bad Gateway"), fail_with=[NetworkError("Bad Gateway")])
    engine = FakeEngine()
    now = [1_000.0]
    monitor = monitor_for(store, bot, engine, now)
    await monitor.check()
    # The first look finds no delivery sent: it asks getMe, which fails.
    assert bot.probes == 1
    now[0] = 1_040.0
    await monitor.check()
    # Probed at most every 15 s (half of TAGWIRE_ALERT_TELEGRAM_DOWN): not again yet, but
    # down since the first failure, 40 s ago.
    assert bot.probes == 1
    assert TELEGRAM in monitor.open_incidents
    assert monitor.open_incidents[TELEGRAM].started_at == 1_000.0
    assert bot.sent == []
    assert monitor.notifier.waiting == 1
    # A delivery went through: Telegram answers; both messages go out, in order.
    bot.probe_error = None
    engine.counters.sent += 1
    now[0] = 1_050.0
    await monitor.check()
    assert ["Telegram unreachable" in m["text"] for m in bot.sent] == [True, False]
    assert "reachable again</b> after 50 s" in bot.sent[1]["text"]


async def test_the_engine_outage_counts_without_a_probe(store: Store) -> None:
    bot = FakeBot()
    monitor = monitor_for(store, bot, FakeEngine(unreachable_since=900.0), [1_000.0])
    await monitor.check()
    assert bot.probes == 0
    assert monitor.open_incidents[TELEGRAM].started_at == 900.0


class RefusingWrites:
    """A store whose writes fail (as on a full disk) until `refuse` is False; reads work."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refuse = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def write_problem(self) -> str | None:
        return "disk I/O error" if self.refuse else None

    async def open_incident(self, *args: Any) -> bool:
        if self.refuse:
            raise StorageUnavailable("the database cannot be written: disk I/O error")
        return await self.store.open_incident(*args)

    async def close_incident(self, key: str) -> bool:
        if self.refuse:
            raise StorageUnavailable("the database cannot be written: disk I/O error")
        return await self.store.close_incident(key)


async def test_what_is_told_while_writes_fail_is_written_later_and_the_database_never(
    store: Store,
) -> None:
    feed_row, _ = await store.add_feed(URL, [], 1.0)
    for second in range(3):
        await store.feed_failed(feed_row.id, "HTTP 500", 2.0 + second)
    refusing = RefusingWrites(store)
    bot = FakeBot()
    monitor = monitor_for(refusing, bot, FakeEngine(), [1_000.0])  # type: ignore[arg-type]
    await monitor.check()
    [message] = bot.sent
    assert "The database refuses writes" in message["text"]
    assert "A feed keeps failing" in message["text"]
    assert await store.incidents() == []
    refusing.refuse = False
    await monitor.check()
    assert [incident.key for incident in await store.incidents()] == [f"feed:{feed_row.id}"]
    assert "The database takes writes again" in bot.sent[1]["text"]
    assert len(bot.sent) == 2
