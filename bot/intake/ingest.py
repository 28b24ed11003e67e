"""One way in for stories: read records, validate each on its own, store in batches, fan out."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

from bot.errors import InvalidArticle
from bot.intake.corrections import changes_of_push
from bot.intake.validation import validate_article
from storage.base import StorageUnavailable, Store
from storage.models import IngestResult, IngestStatus, NewArticle

BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: where it was (`line 3`, `record 2`), and its JSON or why it is none."""

    position: str
    data: Any = None
    syntax_error: str | None = None
    # The file_id of a photo sent to the bot with the record (/post): the story's picture,
    # given by Telegram rather than by the record, so it is not checked as a URL.
    photo: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    position: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What became of one record: stored, known already, or rejected."""

    position: str
    url: str | None
    result: IngestResult | None = None
    rejection: Rejection | None = None


@dataclass(slots=True)
class IngestReport:
    created: int = 0
    duplicates: int = 0
    recipients: int = 0
    # Of the created: held until their time (scheduled stories).
    scheduled: int = 0
    # Known stories pushed again with `"update": true` and changed (bot/intake/corrections.py).
    corrected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    records: list[RecordResult] = field(default_factory=list)
    keep_records: bool = False

    @property
    def rejected(self) -> int:
        return len(self.rejections)


class IngestStopped(StorageUnavailable):
    """The database refused a batch: `report` counts what was stored before it (whole
    batches, each one transaction) and `position` is the first record not stored."""

    def __init__(self, report: IngestReport, position: str, error: StorageUnavailable) -> None:
        super().__init__(str(error))
        self.report = report
        self.position = position


def parse_json(text: str) -> Any:
    """json.loads, except that every way a text can fail to become a value is a
    JSONDecodeError: also a whole number longer than Python converts (4300 digits, a
    ValueError of its own) and nesting too deep for the parser (a RecursionError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        limit = sys.get_int_max_str_digits()
        huge = re.search(rf"-?[0-9]{{{limit + 1},}}", text)
        if huge is None:
            raise json.JSONDecodeError(str(exc), text, 0) from None
        raise json.JSONDecodeError(
            f"a number has more than {limit} digits", text, huge.start()
        ) from None
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def read_records(stream: IO[str]) -> Iterator[RawRecord]:
    """Records from one JSON object, a JSON array, or JSON Lines, streaming the latter."""
    first_line = ""
    line_number = 0
    for line in stream:
        line_number += 1
        if line.strip():
            first_line = line
            break
    if not first_line:
        return
    if first_line.lstrip().startswith("["):
        yield from _records_of_document(first_line + stream.read(), first_line_number=line_number)
        return
    try:
        first = parse_json(first_line)
    except json.JSONDecodeError as first_error:
        # Not a line of JSON Lines: perhaps one object spread over several lines.
        rest = stream.read()
        try:
            document = parse_json(first_line + rest)
        except json.JSONDecodeError:
            yield RawRecord(f"line {line_number}", syntax_error=_describe(first_error))
            yield from _records_of_lines(rest.splitlines(), start=line_number + 1)
            return
        yield from _records_of_value(document)
        return
    yield RawRecord(f"line {line_number}", data=first)
    yield from _records_of_lines(stream, start=line_number + 1)


def _records_of_document(text: str, first_line_number: int) -> Iterator[RawRecord]:
    try:
        document = parse_json(text)
    except json.JSONDecodeError as error:
        line = first_line_number + error.lineno - 1
        yield RawRecord(f"line {line}", syntax_error=_describe(error))
        return
    yield from _records_of_value(document)


def _records_of_value(document: Any) -> Iterator[RawRecord]:
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield RawRecord(f"record {index + 1}", data=item)
    else:
        yield RawRecord("record 1", data=document)


def _records_of_lines(lines: Iterable[str], start: int) -> Iterator[RawRecord]:
    for number, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        try:
            yield RawRecord(f"line {number}", data=parse_json(line))
        except json.JSONDecodeError as error:
            yield RawRecord(f"line {number}", syntax_error=_describe(error))


def _describe(error: json.JSONDecodeError) -> str:
    return f"{error.msg} at column {error.colno}"


def records_of(document: Any) -> Iterator[RawRecord]:
    """Records of an already parsed JSON value: an object or an array of objects."""
    return _records_of_value(document)


class Ingestor:
    """Validates records and stores them; each record stands alone, none is lost to a neighbour."""

    def __init__(
        self,
        store: Store,
        on_queued: Callable[[], None] | None = None,
        on_scheduled: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._on_queued = on_queued
        # Told when a story was scheduled, so that whoever releases them looks again.
        self._on_scheduled = on_scheduled
        # Told when a push with "update": true queued edits of delivered teasers.
        self.on_corrected: Callable[[], None] | None = None

    async def ingest(
        self,
        records: Iterable[RawRecord],
        *,
        notify: bool = True,
        now: datetime | None = None,
        batch_size: int = BATCH_SIZE,
        keep_records: bool = False,
    ) -> IngestReport:
        """Store what is valid; `keep_records` keeps a result per record (for an API answer),
        otherwise only counts and rejections, so a million-line file stays small in memory."""
        report = IngestReport(keep_records=keep_records)
        batch: list[tuple[str, NewArticle]] = []
        # Records with "update": true, by position: a known URL among them is a correction.
        updates: dict[str, dict[str, Any]] = {}
        for record in records:
            moment = now or datetime.now(UTC)
            if record.syntax_error is not None:
                self._reject(report, record.position, None, "json", record.syntax_error)
                continue
            try:
                article = validate_article(record.data, now=moment)
            except InvalidArticle as exc:
                url = record.data.get("url") if isinstance(record.data, dict) else None
                self._reject(
                    report,
                    record.position,
                    url if isinstance(url, str) else None,
                    exc.field,
                    exc.reason,
                )
                continue
            if record.photo is not None:
                article = replace(article, image=record.photo)
            update = record.data.get("update", False)
            if not isinstance(update, bool):
                reason = "must be true or false"
                self._reject(report, record.position, article.url, "update", reason)
                continue
            if update:
                updates[record.position] = record.data
            batch.append((record.position, article))
            if len(batch) >= batch_size:
                await self._store_batch(report, batch, notify=notify, now=moment, updates=updates)
                batch = []
                updates = {}
        if batch:
            await self._store_batch(
                report, batch, notify=notify, now=now or datetime.now(UTC), updates=updates
            )
        return report

    @staticmethod
    def _reject(
        report: IngestReport, position: str, url: str | None, field: str, reason: str
    ) -> None:
        rejection = Rejection(position, field, reason)
        report.rejections.append(rejection)
        if report.keep_records:
            report.records.append(RecordResult(position, url, rejection=rejection))

    async def _store_batch(
        self,
        report: IngestReport,
        batch: list[tuple[str, NewArticle]],
        *,
        notify: bool,
        now: datetime,
        updates: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        try:
            results = await self._store.add_articles(
                [article for _, article in batch], notify=notify, now=now.timestamp()
            )
        except StorageUnavailable as exc:
            raise IngestStopped(report, batch[0][0], exc) from exc
        queued = 0
        scheduled = False
        corrected = False
        for (position, article), result in zip(batch, results, strict=True):
            if updates and position in updates and result.status is IngestStatus.DUPLICATE:
                try:
                    correction = await self._store.correct_story(
                        result.article_id,
                        changes_of_push(article, updates[position]),
                        now.timestamp(),
                    )
                except StorageUnavailable as exc:
                    raise IngestStopped(report, position, exc) from exc
                if correction is not None and correction.changed:
                    result = replace(result, status=IngestStatus.CORRECTED)
                    report.corrected += 1
                    corrected = corrected or correction.edits_queued > 0
            if result.status is IngestStatus.CREATED:
                report.created += 1
                if result.publish_at is not None:
                    report.scheduled += 1
                    scheduled = True
            elif result.status is IngestStatus.DUPLICATE:
                report.duplicates += 1
            report.recipients += result.recipients
            queued += result.recipients
            if report.keep_records:
                report.records.append(RecordResult(position, result.url, result=result))
        if queued and self._on_queued is not None:
            self._on_queued()
        if scheduled and self._on_scheduled is not None:
            self._on_scheduled()
        if corrected and self.on_corrected is not None:
            self.on_corrected()
