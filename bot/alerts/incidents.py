"""Which incidents start and which end, from what the monitor saw: pure, so that each rule is
tested on its own (tests/unit/test_alerts.py).

An incident starts once, when its condition first holds and it is not open already, and ends
once, when its own end condition holds (a feed's streak ends with a successful poll, not with
a lowered threshold). Keys: `database`, `telegram`, `outbox`, `feed:ID`, `feed-paused:ID`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.alerts.notices import Duration, Moment, Notice, Phrase
from bot.intake.feeds import display_url
from storage.models import Feed, Incident

DATABASE = "database"
TELEGRAM = "telegram"
OUTBOX = "outbox"
FEED = "feed:"
FEED_PAUSED = "feed-paused:"
# The database's own incident is about writes failing: it is never written to the database.
NOT_STORED = frozenset({DATABASE})
# The incidents that explain late deliveries (the outbox's alert waits for them to be over).
EXCUSE_LATENESS = frozenset({DATABASE, TELEGRAM})
# A feed's last error as the alert quotes it.
MAX_ERROR_SHOWN = 300


@dataclass(frozen=True, slots=True)
class Thresholds:
    feed_failures: int
    pause_after: int
    outbox_age: float
    telegram_down: float


@dataclass(frozen=True, slots=True)
class Seen:
    """What one look found. None where there was nothing to find; a field of `known` False
    where it could not be read (the incidents that depend on it stay as they are)."""

    now: float
    database_problem: str | None = None
    telegram_down_since: float | None = None
    # When the longest-waiting due delivery became due; `pending`: how many wait.
    overdue_since: float | None = None
    pending: int = 0
    outbox_known: bool = True
    # When the last Telegram or database incident ended: deliveries it held up count as late
    # only from then on (it was announced; its backlog draining is part of it).
    outbox_excused_until: float = 0.0
    feeds: Sequence[Feed] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """An incident starting (`starts`) or ending; `notice` None: it ends without a word (a
    feed removed, a paused feed resumed)."""

    key: str
    starts: bool
    notice: Notice | None
    started_at: float = 0.0
    detail: str = ""


def decide(
    open_now: Mapping[str, Incident], seen: Seen, limits: Thresholds, *, only_database: bool = False
) -> list[Change]:
    """The incidents that start and end now, the database's first, then Telegram's, the
    outbox's and the feeds'. With `only_database`, the database's alone."""
    changes = _database(open_now, seen)
    if only_database:
        return changes
    changes += _telegram(open_now, seen, limits)
    causes = {
        key for key in EXCUSE_LATENESS if key in open_now or any(c.key == key for c in changes)
    }
    changes += _outbox(open_now, seen, limits, explained=bool(causes))
    if seen.feeds is not None:
        changes += _feeds(open_now, seen.feeds, seen.now, limits)
    return changes


def _over(key: str, text: str, incident: Incident, now: float, **values: object) -> Change:
    notice = Notice(
        key,
        (
            Phrase(
                text,
                {
                    "since": Moment(incident.started_at),
                    "duration": Duration(now - incident.started_at),
                    **values,
                },
            ),
        ),
    )
    return Change(key, starts=False, notice=notice)


def _database(open_now: Mapping[str, Incident], seen: Seen) -> list[Change]:
    incident = open_now.get(DATABASE)
    if seen.database_problem is not None and incident is None:
        notice = Notice(DATABASE, (Phrase("alert_database", {"reason": seen.database_problem}),))
        return [Change(DATABASE, True, notice, seen.now, seen.database_problem)]
    if seen.database_problem is None and incident is not None:
        return [_over(DATABASE, "alert_database_over", incident, seen.now)]
    return []


def _telegram(open_now: Mapping[str, Incident], seen: Seen, limits: Thresholds) -> list[Change]:
    incident = open_now.get(TELEGRAM)
    since = seen.telegram_down_since
    if since is not None and incident is None and seen.now - since >= limits.telegram_down:
        notice = Notice(
            TELEGRAM,
            (
                Phrase(
                    "alert_telegram",
                    {"since": Moment(since), "threshold": Duration(limits.telegram_down)},
                ),
            ),
        )
        return [Change(TELEGRAM, True, notice, since, "unreachable")]
    if since is None and incident is not None:
        return [_over(TELEGRAM, "alert_telegram_over", incident, seen.now)]
    return []


def _outbox(
    open_now: Mapping[str, Incident], seen: Seen, limits: Thresholds, *, explained: bool
) -> list[Change]:
    if not seen.outbox_known:
        return []
    incident = open_now.get(OUTBOX)
    waiting = None if seen.overdue_since is None else seen.now - seen.overdue_since
    late = (
        waiting is not None
        and min(waiting, seen.now - seen.outbox_excused_until) >= limits.outbox_age
    )
    if late and incident is None and not explained and seen.overdue_since is not None:
        # Telegram away or the database refusing writes explain late deliveries: one alert
        # for one outage.
        notice = Notice(
            OUTBOX,
            (Phrase("alert_outbox", {"age": Duration(waiting or 0.0), "pending": seen.pending}),),
        )
        return [Change(OUTBOX, True, notice, seen.overdue_since, f"{seen.pending} pending")]
    if not late and incident is not None:
        return [_over(OUTBOX, "alert_outbox_over", incident, seen.now)]
    return []


def _feeds(
    open_now: Mapping[str, Incident], feeds: Sequence[Feed], now: float, limits: Thresholds
) -> list[Change]:
    changes: list[Change] = []
    present: set[str] = set()
    for feed in feeds:
        failing, paused = f"{FEED}{feed.id}", f"{FEED_PAUSED}{feed.id}"
        present.update((failing, paused))
        url = display_url(feed.url)
        incident = open_now.get(failing)
        if incident is None and feed.failures >= limits.feed_failures:
            phrases = [
                Phrase(
                    "alert_feed_failing",
                    {
                        "url": url,
                        "count": feed.failures,
                        "error": (feed.last_error or "")[:MAX_ERROR_SHOWN],
                    },
                )
            ]
            if limits.pause_after and feed.paused_at is None:
                phrases.append(Phrase("alert_feed_pause_note", {"count": limits.pause_after}))
            # It has not worked since its last success (or since it was added).
            worked = feed.last_success_at if feed.last_success_at is not None else feed.created_at
            changes.append(Change(failing, True, Notice(failing, tuple(phrases)), worked, feed.url))
        elif incident is not None and feed.failures == 0:
            changes.append(_over(failing, "alert_feed_over", incident, now, url=url))
        if feed.paused_at is not None and paused not in open_now:
            notice = Notice(
                paused, (Phrase("alert_feed_paused", {"url": url, "count": feed.failures}),)
            )
            changes.append(Change(paused, True, notice, feed.paused_at, feed.url))
        elif feed.paused_at is None and paused in open_now:
            changes.append(Change(paused, starts=False, notice=None))
    # Feeds removed meanwhile: their incidents end without a word.
    changes.extend(
        Change(key, starts=False, notice=None)
        for key in open_now
        if key.startswith((FEED, FEED_PAUSED)) and key not in present
    )
    return changes
