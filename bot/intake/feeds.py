"""RSS and Atom feeds: fetch them politely, turn their entries into stories, ingest those.

Stories from feeds take the one way in every story takes (`Ingestor`): the same validation, the
same identity by URL (an entry's link), the same fan-out. A feed's first successful poll stores
its backlog without notifying anyone; later polls notify. One feed failing (down, slow, not a
feed, malformed, too large) is recorded on that feed and never disturbs the others.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import feedparser  # type: ignore[import-untyped]
import httpx

from bot.errors import InvalidTag
from bot.intake.ingest import Ingestor, IngestReport, RawRecord, Rejection
from bot.intake.validation import MAX_SOURCE_LENGTH, MAX_TAGS
from bot.settings import Settings
from bot.tags import parse_tag
from bot.texts.plain import clean_text, cut_at_word, strip_html
from storage.base import StorageUnavailable, Store
from storage.models import Feed

logger = logging.getLogger(__name__)

USER_AGENT = "tagwire-feed-reader/0.1"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
# Rejections remembered per feed so that each is logged once; forgotten past this many.
_MAX_REPORTED = 10_000
# Encoding quirks feedparser works around; the feed itself is fine.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class FeedError(Exception):
    """A poll that failed; `reason` is a short metric label, the message says what happened."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed's answer: its body, or None when it has not changed since the last poll."""

    url: str
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    records: list[RawRecord]


@dataclass(frozen=True, slots=True)
class PollResult:
    url: str
    outcome: str
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    recipients: int = 0
    error: str | None = None


def display_url(url: str) -> str:
    """The URL without a user name or password, for logs and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class FeedFetcher:
    """Conditional GET with a deadline for the whole answer and a cap on the body's size."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float, max_bytes: int) -> None:
        self._client = client
        self._timeout = timeout
        self._max_bytes = max_bytes

    async def fetch(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        headers = {"Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            # httpx's timeout is per read; a server dripping a byte at a time needs a deadline.
            async with asyncio.timeout(self._timeout):
                return await self._get(url, headers, etag, last_modified)
        except (TimeoutError, httpx.TimeoutException):
            raise FeedError("timeout", f"no complete answer within {self._timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = str(exc) or type(exc).__name__
            raise FeedError("network", f"cannot fetch: {detail}") from None

    async def _get(
        self, url: str, headers: dict[str, str], etag: str | None, last_modified: str | None
    ) -> Fetched:
        async with self._client.stream("GET", url, headers=headers) as response:
            new_etag = response.headers.get("etag") or etag
            new_modified = response.headers.get("last-modified") or last_modified
            if response.status_code == httpx.codes.NOT_MODIFIED:
                return Fetched(str(response.url), None, new_etag, new_modified)
            if not response.is_success:
                raise FeedError("http", f"HTTP {response.status_code} {response.reason_phrase}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise FeedError("too_large", f"larger than {self._max_bytes} bytes")
            body = bytearray()
            # Counted after decompression, so a small gzip bomb is stopped too.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise FeedError("too_large", f"larger than {self._max_bytes} bytes")
            return Fetched(
                str(response.url),
                bytes(body),
                new_etag,
                new_modified,
                response.headers.get("content-type"),
            )


def parse_feed(
    body: bytes, *, url: str, content_type: str | None, feed_tags: Sequence[str]
) -> ParsedFeed:
    """The entries of an RSS (0.9x, 1.0, 2.0) or Atom document as records for the Ingestor,
    oldest first, so that followers get them in the order they were published."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    problem = parsed.get("bozo_exception")
    if not parsed.get("version"):
        detail = f" ({_describe(problem)})" if problem is not None else ""
        raise FeedError("not_a_feed", f"not an RSS or Atom feed{detail}")
    if parsed.get("bozo") and not isinstance(problem, _HARMLESS_BOZO):
        raise FeedError("malformed", f"malformed feed: {_describe(problem)}")
    channel = parsed.get("feed") or {}
    title = _text(channel.get("title"))
    source = cut_at_word(title, MAX_SOURCE_LENGTH) if title else urlsplit(url).hostname
    entries = parsed.get("entries") or []
    records = [
        RawRecord(f"entry {number}", data=entry_record(entry, feed_tags, source))
        for number, entry in enumerate(entries, start=1)
    ]
    records.reverse()
    return ParsedFeed(title=title, records=records)


def entry_record(
    entry: Mapping[str, Any], feed_tags: Sequence[str], source: str | None
) -> dict[str, Any]:
    """One entry as a story record: its link, title, summary (HTML is stripped by validation),
    categories after the feed's own tags, and its published (or updated) date in UTC."""
    record: dict[str, Any] = {"tags": _tags(feed_tags, entry.get("tags") or [])}
    link = entry.get("link")
    if link:
        record["url"] = link
    title = entry.get("title")
    if isinstance(title, str):
        detail = entry.get("title_detail") or {}
        record["title"] = strip_html(title) if "html" in str(detail.get("type", "")) else title
    summary = entry.get("summary")
    if not summary:
        contents = entry.get("content") or []
        summary = contents[0].get("value") if contents else None
    if isinstance(summary, str) and summary:
        record["teaser"] = summary
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if moment is not None:
        # feedparser gives a struct_time already converted to UTC.
        record["published_at"] = datetime.fromtimestamp(calendar.timegm(moment), UTC).isoformat()
    if source:
        record["source"] = source
    return record


def _tags(feed_tags: Sequence[str], categories: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    keys: set[str] = set()
    candidates = list(feed_tags) + [
        str(category.get("label") or category.get("term") or "") for category in categories
    ]
    for candidate in candidates:
        try:
            tag = parse_tag(candidate)
        except InvalidTag:
            # A category that cannot be a tag ("---", 200 characters) is left out, not the story.
            continue
        if tag.key not in keys:
            keys.add(tag.key)
            names.append(tag.name)
        if len(names) >= MAX_TAGS:
            break
    return names


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return clean_text(strip_html(value)) or None


def _describe(problem: object) -> str:
    text = str(problem).replace("<unknown>:", "line ").strip()
    return text or type(problem).__name__


class FeedCounters(Protocol):
    """What the poller reports to; bot.metrics.Metrics is one. A protocol, so that intake does
    not import the metrics module that sits above it (bot/__init__.py)."""

    def count_ingest(self, source: str, report: IngestReport) -> None: ...

    def feed_polled(self, outcome: str, error_reason: str | None = None) -> None: ...


class FeedPoller:
    """Polls every feed in the database, a few at a time; the JobQueue calls `poll_all`."""

    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        fetcher: FeedFetcher,
        *,
        concurrency: int = 4,
        metrics: FeedCounters | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._store = store
        self._ingestor = ingestor
        self._fetcher = fetcher
        self._metrics = metrics
        self._client = client
        self._slots = asyncio.Semaphore(concurrency)
        self._round = asyncio.Lock()
        # Entries whose rejection was logged already, per feed, so a bad entry that stays in a
        # feed is logged once rather than at every poll (it is counted every time).
        self._reported: dict[int, set[str]] = {}

    @classmethod
    def open(
        cls, store: Store, ingestor: Ingestor, settings: Settings, metrics: FeedCounters
    ) -> Self:
        client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.feed_timeout),
            follow_redirects=True,
            max_redirects=5,
            limits=httpx.Limits(max_connections=settings.feed_concurrency * 2),
        )
        fetcher = FeedFetcher(
            client, timeout=settings.feed_timeout, max_bytes=settings.feed_max_bytes
        )
        return cls(
            store,
            ingestor,
            fetcher,
            concurrency=settings.feed_concurrency,
            metrics=metrics,
            client=client,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def busy(self) -> bool:
        return self._round.locked()

    async def poll_all(self) -> list[PollResult]:
        """Poll each feed once, at most `concurrency` at a time; waits for a round already
        under way to finish first."""
        async with self._round:
            feeds = await self._store.list_feeds()
            if not feeds:
                return []
            return list(await asyncio.gather(*(self._poll_guarded(feed) for feed in feeds)))

    async def _poll_guarded(self, feed: Feed) -> PollResult:
        async with self._slots:
            try:
                return await self.poll(feed)
            except StorageUnavailable as exc:
                # Nothing of this poll is lost: the next one reads the feed again, and what
                # was stored meanwhile counts as duplicates.
                logger.warning("feed %s: not stored this time: %s", display_url(feed.url), exc)
                self._count("error", "storage")
                return PollResult(feed.url, "error", error=str(exc))
            except Exception as exc:
                logger.exception("feed %s: unexpected error", display_url(feed.url))
                return await self._failed(feed, "storage", f"internal error: {exc}")

    async def poll(self, feed: Feed) -> PollResult:
        try:
            fetched = await self._fetcher.fetch(feed.url, feed.etag, feed.last_modified)
            if fetched.body is None:
                logger.debug("feed %s: not modified", display_url(feed.url))
                await self._store.feed_succeeded(
                    feed.id, fetched.etag, fetched.last_modified, time.time()
                )
                self._count("not_modified")
                return PollResult(feed.url, "not_modified")
            parsed = await asyncio.to_thread(
                parse_feed,
                fetched.body,
                url=fetched.url,
                content_type=fetched.content_type,
                feed_tags=feed.tags,
            )
        except FeedError as exc:
            return await self._failed(feed, exc.reason, exc.message)
        report = await self._ingestor.ingest(parsed.records, notify=feed.primed)
        if self._metrics is not None:
            self._metrics.count_ingest("feed", report)
        self._log_rejections(feed, report.rejections, parsed.records)
        await self._store.feed_succeeded(feed.id, fetched.etag, fetched.last_modified, time.time())
        self._count("ok")
        if report.created and not feed.primed:
            logger.info(
                "feed %s: stored its backlog of %d stories without notifying anyone",
                display_url(feed.url),
                report.created,
            )
        elif report.created:
            logger.info(
                "feed %s: %d new stories, %d deliveries queued",
                display_url(feed.url),
                report.created,
                report.recipients,
            )
        return PollResult(
            feed.url,
            "ok",
            created=report.created,
            duplicates=report.duplicates,
            rejected=report.rejected,
            recipients=report.recipients,
        )

    async def _failed(self, feed: Feed, reason: str, message: str) -> PollResult:
        logger.warning("feed %s failed: %s", display_url(feed.url), message)
        self._count("error", reason)
        try:
            await self._store.feed_failed(feed.id, message, time.time())
        except Exception:
            logger.exception("feed %s: could not record the error", display_url(feed.url))
        return PollResult(feed.url, "error", error=message)

    def _count(self, outcome: str, reason: str | None = None) -> None:
        if self._metrics is not None:
            self._metrics.feed_polled(outcome, reason)

    def _log_rejections(
        self, feed: Feed, rejections: Sequence[Rejection], records: Sequence[RawRecord]
    ) -> None:
        if not rejections:
            return
        links = {
            record.position: str(record.data.get("url", ""))
            for record in records
            if isinstance(record.data, dict)
        }
        reported = self._reported.setdefault(feed.id, set())
        if len(reported) > _MAX_REPORTED:
            reported.clear()
        for rejection in rejections:
            link = links.get(rejection.position, "")
            key = f"{link or rejection.position}|{rejection.field}|{rejection.reason}"
            level = logging.DEBUG if key in reported else logging.WARNING
            reported.add(key)
            logger.log(
                level,
                "feed %s: %s %s skipped: %s: %s",
                display_url(feed.url),
                rejection.position,
                link,
                rejection.field,
                rejection.reason,
            )
