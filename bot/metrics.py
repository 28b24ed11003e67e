"""Prometheus metrics, in a registry owned by one Application (never the global default).

Counters count what *this process* did. `tagwire push` runs in a process of its own, so the
stories it adds are not in `tagwire_stories_ingested_total`; the database-wide figures (the
outbox gauges) are read from the database at each scrape and include everyone's work.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)

from bot.delivery.sender import Failure, FailureKind
from bot.intake.ingest import IngestReport
from storage.models import OutboxFigures, PendingDelivery

INGEST_SOURCES = ("cli", "api", "feed", "telegram")
FEED_OUTCOMES = ("ok", "not_modified", "error")
FEED_ERRORS = ("timeout", "network", "http", "too_large", "not_a_feed", "malformed", "storage")
WEBHOOK_RESULTS = ("accepted", "forbidden", "bad_request")


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter(
            "tagwire_updates_handled",
            "Updates handled, by command (unknown_command, callback, text, membership, other "
            "for the rest).",
            ["command"],
            registry=registry,
        )
        self.deliveries_sent = Counter(
            "tagwire_deliveries_sent", "Teasers Telegram accepted.", registry=registry
        )
        self.delivery_failures = Counter(
            "tagwire_delivery_failures",
            "Failed send attempts of teasers, by reason (429, 403, migrated, network, 400).",
            ["reason"],
            registry=registry,
        )
        self.stories = Counter(
            "tagwire_stories_ingested",
            "Stories this process took in, by source (api, feed, telegram; cli counts only in "
            "the `tagwire push` process) and result (created, duplicate, rejected).",
            ["source", "result"],
            registry=registry,
        )
        self.feed_polls = Counter(
            "tagwire_feed_polls",
            "Feed polls by outcome (ok, not_modified, error).",
            ["outcome"],
            registry=registry,
        )
        self.feed_errors = Counter(
            "tagwire_feed_errors",
            "Failed feed polls by reason.",
            ["reason"],
            registry=registry,
        )
        self.webhook_requests = Counter(
            "tagwire_webhook_requests",
            "Requests to the webhook path by result (accepted, forbidden, bad_request).",
            ["result"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "tagwire_outbox_pending",
            "Deliveries waiting in the outbox (read from the database at scrape time).",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "tagwire_outbox_oldest_pending_age_seconds",
            "Seconds since the oldest pending delivery was queued; 0 when none is pending.",
            registry=registry,
        )
        self.leader = Gauge(
            "tagwire_leader",
            "1 while this instance leads (sends, polls feeds and updates), 0 as a follower.",
            ["instance"],
            registry=registry,
        )
        ProcessCollector(registry=registry)
        # Every known label set starts at 0, so that rates and alerts work from the first scrape.
        for kind in FailureKind:
            self.delivery_failures.labels(reason=kind.value)
        for source in INGEST_SOURCES:
            if source == "cli":
                continue
            for result in ("created", "duplicate", "rejected"):
                self.stories.labels(source=source, result=result)
        for outcome in FEED_OUTCOMES:
            self.feed_polls.labels(outcome=outcome)
        for reason in FEED_ERRORS:
            self.feed_errors.labels(reason=reason)
        for result in WEBHOOK_RESULTS:
            self.webhook_requests.labels(result=result)

    # Callbacks of the delivery engine.

    def delivery_sent(self, delivery: PendingDelivery) -> None:
        self.deliveries_sent.inc()

    def delivery_failed(self, delivery: PendingDelivery, failure: Failure) -> None:
        self.delivery_failures.labels(reason=failure.kind.value).inc()

    def update_handled(self, command: str) -> None:
        self.updates.labels(command=command).inc()

    def count_ingest(self, source: str, report: IngestReport) -> None:
        for result, count in (
            ("created", report.created),
            ("duplicate", report.duplicates),
            ("rejected", report.rejected),
        ):
            if count:
                self.stories.labels(source=source, result=result).inc(count)

    def feed_polled(self, outcome: str, error_reason: str | None = None) -> None:
        self.feed_polls.labels(outcome=outcome).inc()
        if error_reason is not None:
            self.feed_errors.labels(reason=error_reason).inc()

    def exposition(
        self,
        figures: OutboxFigures | None,
        now: float | None = None,
        *,
        instance: str = "",
        leads: bool = True,
    ) -> bytes:
        """The text format. `figures` are the outbox as just read from the database; without
        them (the database did not answer) the gauges keep their last values."""
        self.leader.clear()
        self.leader.labels(instance=instance).set(1 if leads else 0)
        if figures is not None:
            moment = time.time() if now is None else now
            self.outbox_pending.set(figures.pending)
            oldest = figures.oldest_pending_at
            self.outbox_oldest_age.set(0.0 if oldest is None else max(0.0, moment - oldest))
        return generate_latest(self.registry)
