"""RSS and Atom feeds: fetch them politely, turn their entries into stories, ingest those.

Stories from feeds take the one way in every story takes (`Ingestor`): the same validation, the
same identity by URL (an entry's link), the same fan-out. A feed's first successful poll stores
its backlog without notifying anyone; later polls notify. One feed failing (down, slow, not a
feed, malformed, too large) is recorded on that feed and never disturbs the others.

Feeds from the wild are read as leniently as they can be without guessing (docs/reliability.md,
"Feeds from the wild"): the encoding is decided as a browser decides it, an entity or a namespace
prefix XML does not know costs nothing, an impossible date costs only that entry its date, text
stays text, and an item without a title is titled from its description.
"""

from __future__ import annotations

import asyncio
import calendar
import codecs
import io
import logging
import re
import time
import xml.parsers.expat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self
from urllib.parse import urljoin, urlsplit, urlunsplit

import chardet
import feedparser  # type: ignore[import-untyped]
import httpx

from bot.errors import InvalidTag
from bot.intake.ingest import Ingestor, IngestReport, RawRecord, Rejection
from bot.intake.validation import MAX_IMAGE_LENGTH, MAX_SOURCE_LENGTH, MAX_TAGS, url_problem
from bot.settings import Settings
from bot.tags import parse_tag
from bot.texts.plain import clean_text, cut_at_word, escape, strip_html
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

# Publication dates before this are placeholders ("0001-01-01", a two-digit year padded to 0099),
# not dates; neither is one more than this far after the poll (it would top /latest for years).
_EARLIEST = 0.0
_LATEST_AHEAD = 2 * 86_400.0

# A title made from a description: its first sentence, if one of at least _SENTENCE_MIN
# characters ends within _HEADLINE_LENGTH, else its start cut at a word.
_HEADLINE_LENGTH = 100
_SENTENCE_MIN = 20
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)|[。！？]")

_HTML_TYPES = ("html",)  # text/html, application/xhtml+xml

# Encodings. Byte order marks, and the first bytes of an XML declaration in UTF-16 (XML's own
# sniffing, for documents without a mark).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UTF16_STARTS = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_DECLARED_ENCODING = re.compile(
    rb"""\A\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml\s[^>]*>")
# Labels Python does not know by the name browsers use.
_LABELS = {"x-sjis": "cp932", "windows-874": "cp874", "x-gbk": "gbk"}
# What browsers read instead (the WHATWG Encoding Standard): text declared ISO-8859-1 or ASCII
# is windows-1252 in practice (its quotes and dashes), Shift_JIS is Windows-31J, and so on.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
# Codecs Python has that no browser decodes a page with.
_NOT_FOR_DOCUMENTS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "utf-7"}
)
# Detection reads this much of the document: the markup is ASCII, the text comes early.
_DETECT_BYTES = 64 * 1024
# What the decoded document is handed to feedparser as, so that its own rules (ISO-8859-1 when
# there is no Content-Type, US-ASCII for text/xml) never apply.
_UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
_UTF8_HEADERS = {"content-type": "application/xml; charset=utf-8"}


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
    # What was wrong with the XML when the entries were read anyway (an undefined entity...).
    flaw: str | None = None


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
    text, _ = decode_document(body, content_type)
    document = _redeclared(text)
    parsed = feedparser.parse(
        io.BytesIO(document),
        response_headers={"content-location": url, **_UTF8_HEADERS},
        # Everything is turned into plain text here and escaped when sent; feedparser's
        # sanitiser would only get in the way (it leaves script text outside its tag).
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = parsed.get("bozo_exception")
    if not parsed.get("version"):
        detail = f" ({_describe(problem)})" if problem is not None else ""
        raise FeedError("not_a_feed", f"not an RSS or Atom feed{detail}")
    flaw = None
    if parsed.get("bozo") and not isinstance(problem, _HARMLESS_BOZO):
        broken = _structure_error(document)
        if broken is not None:
            raise FeedError("malformed", f"malformed feed: {broken}")
        # Only entities or namespace prefixes XML does not know: the lenient parser, which
        # feedparser fell back to, read the document as it was meant.
        flaw = _describe(problem)
    channel = parsed.get("feed") or {}
    title = _plain(channel.get("title"), channel.get("title_detail"), html=False)
    source = cut_at_word(title, MAX_SOURCE_LENGTH) if title else urlsplit(url).hostname
    entries = parsed.get("entries") or []
    now = time.time()
    records = [
        RawRecord(f"entry {number}", data=entry_record(entry, feed_tags, source, now=now))
        for number, entry in enumerate(entries, start=1)
    ]
    if flaw is not None and not any(_usable(record.data) for record in records):
        raise FeedError("malformed", f"malformed feed: {flaw}, and no entry could be read")
    records.reverse()
    return ParsedFeed(title=title, records=records, flaw=flaw)


def decode_document(body: bytes, content_type: str | None) -> tuple[str, str]:
    """The document as text and the codec it was read with, decided as a browser decides: a
    byte order mark, then the XML declaration, then the charset of the HTTP Content-Type, then
    detection (UTF-8 when the bytes are valid UTF-8, else chardet's guess). A declared encoding
    wins even where a byte does not fit it: that byte becomes U+FFFD, the rest stays right."""
    for start, encoding in _BOMS:
        if body.startswith(start):
            return body[len(start) :].decode(encoding, "replace"), encoding
    for start, encoding in _UTF16_STARTS:
        if body.startswith(start):
            return body.decode(encoding, "replace"), encoding
    declared = _DECLARED_ENCODING.match(body)
    header = _HEADER_CHARSET.search(content_type or "")
    for label in (
        declared.group(1).decode("ascii") if declared else None,
        header.group(1) if header else None,
    ):
        found = _codec(label)
        if found is not None:
            return body.decode(found, "replace"), found
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guessed = _codec(chardet.detect(body[:_DETECT_BYTES])["encoding"]) or "cp1252"
    return body.decode(guessed, "replace"), guessed


def _codec(label: str | None) -> str | None:
    """The Python codec for an encoding's label, or None for one no document is read with: an
    unknown label, a codec that is no text encoding (base64), or UTF-16 or UTF-32 named in a
    document or header that was just read as ASCII (their byte order marks decide those)."""
    if not label:
        return None
    key = label.strip().lower()
    try:
        name = codecs.lookup(_LABELS.get(key, key)).name
        b"<".decode(name, "replace")
    except (LookupError, UnicodeError):
        return None
    if name in _NOT_FOR_DOCUMENTS or name.startswith(("utf-16", "utf-32")):
        return None
    return _SUPERSETS.get(name, name)


def _redeclared(text: str) -> bytes:
    """The decoded document as UTF-8 that says so, whatever its declaration said (on the same
    line, so that an error's line number is the document's); whitespace before the declaration
    (a blank line from a template) is dropped, as XML requires."""
    text = _XML_DECLARATION.sub("", text.lstrip("\ufeff \t\r\n"), count=1)
    return (_UTF8_DECLARATION + text).encode("utf-8", "replace")


def _structure_error(document: bytes) -> str | None:
    """What is wrong with the document's structure (mismatched tags, characters XML cannot
    carry, a document cut short), or None when the only flaws are entities it does not define
    and namespace prefixes it does not declare. Those the lenient parser reads as meant; past
    a broken structure its reading is a guess that can run one entry into the next."""
    parser = xml.parsers.expat.ParserCreate()
    # As if an external DTD declared the entities: an unknown one is skipped, not an error. The
    # "DTD" is always empty; nothing outside the document is ever read.
    parser.UseForeignDTD(True)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE)

    def empty_dtd(context: str | None, *_: object) -> int:
        parser.ExternalEntityParserCreate(context).Parse(b"", True)
        return 1

    parser.ExternalEntityRefHandler = empty_dtd
    try:
        parser.Parse(document, True)
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.ErrorString(exc.code)
        return f"line {exc.lineno}:{exc.offset}: {message}"
    return None


def _usable(data: object) -> bool:
    return isinstance(data, dict) and bool(data.get("url")) and bool(data.get("title"))


def entry_record(
    entry: Mapping[str, Any],
    feed_tags: Sequence[str],
    source: str | None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One entry as a story record: its link (the story's page rather than an enclosure), its
    title (or the start of its description), its summary as HTML for validation to strip,
    categories after the feed's own tags, its published (or updated) date in UTC if it is
    a real one, and its picture if it names one (never fetched: the story's page is not
    read for one)."""
    record: dict[str, Any] = {"tags": _tags(feed_tags, entry.get("tags") or [])}
    link = _story_link(entry)
    if link:
        record["url"] = link
    summary, summary_is_html = _summary(entry)
    if summary:
        # Validation strips a teaser's HTML: text is handed over escaped, so it stays as it is.
        record["teaser"] = summary if summary_is_html else escape(summary)
    title = _plain(entry.get("title"), entry.get("title_detail"), html=False)
    if title is None and summary and link:
        # An item may be a description and a link only (RSS allows it; Mastodon's are).
        title = _headline(strip_html(summary) if summary_is_html else summary)
    if title is not None:
        record["title"] = title
    published = _published(entry, time.time() if now is None else now)
    if published is not None:
        record["published_at"] = published.isoformat()
    if source:
        record["source"] = source
    image = _picture(entry, link)
    if image is not None:
        record["image"] = image
    return record


def _is_image(item: Mapping[str, Any]) -> bool:
    kind = item.get("type")
    return item.get("medium") == "image" or (
        isinstance(kind, str) and kind.strip().lower().startswith("image/")
    )


def _picture(entry: Mapping[str, Any], link: str | None) -> str | None:
    """The entry's picture: its first image `media:content`, else an image enclosure, else its
    `media:thumbnail` (the smallest of the three, so the last resort). A URL that could not be
    a story's picture (relative to nothing, too long, not http) is passed over, never the
    entry: a story is not lost to its picture."""
    candidates: list[object] = []
    for item in entry.get("media_content") or []:
        if isinstance(item, Mapping) and _is_image(item):
            candidates.append(item.get("url"))
    for item in entry.get("links") or []:
        if isinstance(item, Mapping) and _rel(item) == "enclosure" and _is_image(item):
            candidates.append(item.get("href"))
    for item in entry.get("media_thumbnail") or []:
        if isinstance(item, Mapping):
            candidates.append(item.get("url"))
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate.strip():
            continue
        url = candidate.strip()
        if link and "://" not in url:
            try:
                url = urljoin(link, url)
            except ValueError:
                continue
        if url_problem(url, MAX_IMAGE_LENGTH) is None:
            return url
    return None


def _is_html(detail: object, *, default: bool) -> bool:
    """Whether feedparser says a field is HTML (text/html, application/xhtml+xml): anything
    else (text/plain) is text, whatever it looks like."""
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    if not isinstance(kind, str) or not kind:
        return default
    return any(name in kind.lower() for name in _HTML_TYPES)


def _plain(value: object, detail: object, *, html: bool) -> str | None:
    """A field as one line of plain text: HTML loses its markup, text keeps every character."""
    if not isinstance(value, str):
        return None
    if _is_html(detail, default=html):
        value = strip_html(value)
    return clean_text(value) or None


def _summary(entry: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The entry's summary (or first content) and whether it is HTML."""
    summary = entry.get("summary")
    detail = entry.get("summary_detail")
    contents = [item for item in entry.get("content") or [] if isinstance(item, Mapping)]
    if not summary and contents:
        summary, detail = contents[0].get("value"), contents[0]
    elif detail is None:
        # feedparser copies an Atom entry's content to its summary, without the type.
        detail = next((item for item in contents if item.get("value") == summary), None)
    if not isinstance(summary, str) or not summary:
        return None, False
    # An RSS description is HTML unless said otherwise.
    return summary, _is_html(detail, default=True)


def _headline(text: str) -> str | None:
    """A title for an item that has none (RSS allows it; Mastodon's feeds are all like that):
    the first sentence of its text if it is short enough, else its start cut at a word."""
    text = clean_text(text)
    if not text:
        return None
    for end in _SENTENCE_END.finditer(text):
        if end.end() > _HEADLINE_LENGTH:
            break
        if end.end() >= _SENTENCE_MIN:
            return text[: end.end()]
    return cut_at_word(text, _HEADLINE_LENGTH)


def _story_link(entry: Mapping[str, Any]) -> str | None:
    """The entry's link, unless it is also an enclosure (an audio file) and the entry has an
    alternate link that is not: then that one, the story's page (an HTML one first)."""
    link = entry.get("link")
    link = link if isinstance(link, str) and link else None
    links = [item for item in entry.get("links") or [] if isinstance(item, Mapping)]
    enclosures = {item.get("href") for item in links if _rel(item) == "enclosure"}
    if link is not None and link not in enclosures:
        return link
    alternates = [
        item
        for item in links
        if _rel(item) == "alternate"
        and isinstance(item.get("href"), str)
        and item["href"]
        and item["href"] not in enclosures
    ]
    alternates.sort(key=lambda item: not _is_html(item, default=False))
    return str(alternates[0]["href"]) if alternates else link


def _rel(link: Mapping[str, Any]) -> str:
    return str(link.get("rel") or "alternate").strip().lower()


def _published(entry: Mapping[str, Any], now: float) -> datetime | None:
    """The published (else updated) date, if it is one: feedparser converts a date to UTC
    without checking that the result is a date at all (9999-12-31T23:59:59-09:59 is in year
    10000), and placeholders such as 0001-01-01 are no publication date either."""
    for key in ("published_parsed", "updated_parsed"):
        # `in` first: feedparser warns when `updated_parsed` is read and only `published_parsed`
        # is there.
        if key not in entry or entry[key] is None:
            continue
        moment = entry[key]
        try:
            # feedparser gives a struct_time already converted to UTC.
            seconds = calendar.timegm(moment)
        except (TypeError, ValueError, OverflowError):
            continue
        if _EARLIEST <= seconds <= now + _LATEST_AHEAD:
            return datetime.fromtimestamp(seconds, UTC)
    return None


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
        pause_after: int = 0,
    ) -> None:
        self._store = store
        # Failed polls in a row that pause a feed (TAGWIRE_FEED_PAUSE_AFTER; 0: never).
        self._pause_after = pause_after
        self._ingestor = ingestor
        self._fetcher = fetcher
        self._metrics = metrics
        self._client = client
        self._slots = asyncio.Semaphore(concurrency)
        self._round = asyncio.Lock()
        # Entries whose rejection was logged already, per feed, so a bad entry that stays in a
        # feed is logged once rather than at every poll (it is counted every time).
        self._reported: dict[int, set[str]] = {}
        # Feeds whose XML flaw (read past) was logged already: once per feed, not every poll.
        self._flawed: set[int] = set()

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
            pause_after=settings.feed_pause_after,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def busy(self) -> bool:
        return self._round.locked()

    async def poll_all(self) -> list[PollResult]:
        """Poll each feed once (a paused one is not polled), at most `concurrency` at a
        time; waits for a round already under way to finish first."""
        async with self._round:
            feeds = [feed for feed in await self._store.list_feeds() if feed.paused_at is None]
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
        self._log_flaw(feed, parsed.flaw)
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
            paused = await self._store.feed_failed(
                feed.id, message, time.time(), pause_after=self._pause_after
            )
        except Exception:
            logger.exception("feed %s: could not record the error", display_url(feed.url))
        else:
            if paused:
                logger.warning(
                    "feed %s paused after %d failed polls in a row: it is not polled until "
                    "`tagwire feeds resume %s`",
                    display_url(feed.url),
                    feed.failures + 1,
                    display_url(feed.url),
                )
        return PollResult(feed.url, "error", error=message)

    def _count(self, outcome: str, reason: str | None = None) -> None:
        if self._metrics is not None:
            self._metrics.feed_polled(outcome, reason)

    def _log_flaw(self, feed: Feed, flaw: str | None) -> None:
        if flaw is None:
            self._flawed.discard(feed.id)
            return
        level = logging.DEBUG if feed.id in self._flawed else logging.WARNING
        self._flawed.add(feed.id)
        logger.log(
            level,
            "feed %s is not well-formed XML (%s); its entries were read anyway",
            display_url(feed.url),
            flaw,
        )

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
