"""The HTTP side of the bot: the ingestion API, health, metrics, the OpenAPI description and,
in webhook mode, the path Telegram posts updates to. It runs in the bot's own event loop and
reaches the same services the handlers use."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.context import Services, TagwireApplication
from bot.errors import InvalidArticle, InvalidTag, UnknownTag
from bot.intake.corrections import Corrections, parse_changes
from bot.intake.ingest import RecordResult, parse_json, records_of
from bot.web.openapi import openapi_document
from bot.web.webhook import SECRET_HEADER, WebhookConfig
from storage.base import StorageUnavailable
from storage.models import Article, EditFigures, OutboxFigures, StoryReport, Tag

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Past the cap, this much more is read and thrown away so the client can read the 413 before
# the connection closes; beyond it the connection is simply cut.
_DRAIN_BYTES = 8 * MAX_BODY_BYTES
DEFAULT_ARTICLES = 20
MAX_ARTICLES = 100
DEFAULT_TAGS = 1000
MAX_TAGS_LISTED = 10_000
# A database that takes longer than this to answer SELECT 1 is not healthy.
HEALTH_TIMEOUT = 5.0
# Seconds a client is asked to wait when the database cannot be written.
STORAGE_RETRY_AFTER = 30

Endpoint = Callable[[Request], Awaitable[Response]]


class _BodyTooLarge(Exception):
    pass


class RequestLimiter:
    """A token bucket a key (a client address, the token): `per_minute` requests a minute,
    all of them at once at most. Keys idle long enough to be full again are forgotten, and
    never more than `max_keys` are kept, so a flood of addresses cannot exhaust memory."""

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """0 when the request may go ahead (and is counted); else the seconds to wait."""
        tokens, last = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, read as it streams in and refused past `limit` bytes whatever
    Content-Length claims (it may be absent, with chunked encoding, or wrong)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            await _drain(request, len(body))
            raise _BodyTooLarge
    return bytes(body)


async def _drain(request: Request, already: int) -> None:
    received = already
    async for chunk in request.stream():
        received += len(chunk)
        if received > _DRAIN_BYTES:
            return


def _json_document(body: bytes) -> Any:
    """The JSON document a request's body holds, or the 400 that says why it holds none. JSON
    over HTTP is UTF-8 (RFC 8259); a byte order mark is tolerated."""
    try:
        return parse_json(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _error(400, "the body is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return _error(
            400, f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )


def _parse_limit(raw: str | None, default: int, maximum: int) -> int | None:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= maximum else None


def _tag_json(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, "story_count": tag.story_count, "follower_count": tag.follower_count}


def _article_json(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "teaser": article.teaser,
        "tags": list(article.tags),
        "source": article.source,
        "published_at": article.published_at.isoformat(),
        "image": article.image,
    }


def _echo(text: str | None) -> str | None:
    """Client input shown back: a lone surrogate (`"\\ud800"` in the JSON) cannot be encoded
    in the UTF-8 answer, so it is shown as its escape."""
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _result_json(index: int, record: RecordResult) -> dict[str, Any]:
    if record.rejection is not None:
        return {
            "index": index,
            "status": "rejected",
            "url": _echo(record.url),
            "field": record.rejection.field,
            "reason": record.rejection.reason,
        }
    assert record.result is not None
    answer: dict[str, Any] = {
        "index": index,
        "status": record.result.status.value,
        "id": record.result.article_id,
        "url": record.result.url,
        "deliveries_queued": record.result.recipients,
    }
    if record.result.publish_at is not None:
        answer["publish_at"] = _moment(record.result.publish_at)
    return answer


def _moment(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _report_json(report: StoryReport) -> dict[str, Any]:
    schedule = report.schedule
    scheduled = None
    if schedule is not None:
        state = "held" if schedule.held else "cancelled" if schedule.cancelled_at else "released"
        scheduled = {
            "state": state,
            "publish_at": _moment(schedule.publish_at),
            "released_at": _moment(schedule.released_at),
            "cancelled_at": _moment(schedule.cancelled_at),
        }
    return {
        "story": _article_json(report.article),
        "scheduled": scheduled,
        "chats": report.chats,
        "sent": report.sent,
        "pending": report.pending,
        "held": report.held,
        "skipped": {"muted": report.skipped_muted, "inactive": report.skipped_inactive},
        "failed": report.failed,
        "failures": [{"reason": reason, "count": count} for reason, count in report.failures],
        "queued_at": _moment(report.queued_at),
        "first_sent_at": _moment(report.first_sent_at),
        "last_sent_at": _moment(report.last_sent_at),
        "half_after_seconds": report.half_after,
        "all_after_seconds": report.all_after,
        "edits": None if report.edits is None else _edits_json(report.edits),
    }


def _edits_json(edits: EditFigures) -> dict[str, Any]:
    return {
        "corrections": edits.corrections,
        "edited": edits.edited,
        "unchanged": edits.unchanged,
        "edits_pending": edits.edits_pending,
        "retracted_at": _moment(edits.retracted_at),
        "cancelled": edits.cancelled,
        "deleted": edits.deleted,
        "noted": edits.noted,
        "deletes_pending": edits.deletes_pending,
        "skipped": edits.skipped,
        "failed": edits.failed,
        "failures": [{"reason": reason, "count": count} for reason, count in edits.failures],
    }


class OperatorApi:
    """The Starlette app; every answer is JSON except /metrics."""

    def __init__(self, application: TagwireApplication, webhook: WebhookConfig | None) -> None:
        self._application = application
        self._webhook = webhook
        self._limit = application.bot_data.require_settings().api_requests_per_minute
        self._limiter = RequestLimiter(self._limit)
        routes = [
            Route(
                "/api/articles", self._guard(self._limited(self.post_articles)), methods=["POST"]
            ),
            Route("/api/articles", self._guard(self._limited(self.get_articles)), methods=["GET"]),
            Route(
                "/api/articles/{id}",
                self._guard(self._limited(self.article)),
                methods=["GET", "PATCH", "DELETE"],
            ),
            Route(
                "/api/articles/{id}/report",
                self._guard(self._limited(self.get_report)),
                methods=["GET"],
            ),
            Route("/api/tags", self._guard(self._limited(self.get_tags)), methods=["GET"]),
            Route("/healthz", self._guard(self.healthz), methods=["GET"]),
            Route("/metrics", self._guard(self.metrics), methods=["GET"]),
            Route("/openapi.json", self._guard(self.openapi), methods=["GET"]),
        ]
        if webhook is not None:
            routes.append(Route(webhook.path, self._guard(self.telegram_update), methods=["POST"]))
        self.app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})

    # Plumbing

    @staticmethod
    def _guard(endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ClientDisconnect:
                # Gone, or closed for sending its body too slowly: nobody is left to answer.
                logger.info("%s %s: the client went away", request.method, request.url.path)
                return Response(status_code=400)
            except StorageUnavailable as exc:
                logger.warning("%s %s: %s", request.method, request.url.path, exc)
                return JSONResponse(
                    {"error": f"{exc}; try again later"},
                    status_code=503,
                    headers={"Retry-After": str(STORAGE_RETRY_AFTER)},
                )
            except Exception:
                logger.exception("error answering %s %s", request.method, request.url.path)
                return _error(500, "internal error; it has been logged")

        return guarded

    def _limited(self, endpoint: Endpoint) -> Endpoint:
        """Counts every /api request against its client address before anything else, so that
        guessing the token is as slow as using it."""

        async def limited(request: Request) -> Response:
            address = request.client.host if request.client is not None else "unknown"
            wait = self._limiter.take(f"address {address}", time.monotonic())
            if wait:
                return self._too_many("from one address", wait)
            return await endpoint(request)

        return limited

    def _too_many(self, whose: str, wait: float) -> Response:
        seconds = max(1, math.ceil(wait))
        return JSONResponse(
            {
                "error": f"too many requests: at most {self._limit} a minute {whose} "
                f"(TAGWIRE_API_REQUESTS_PER_MINUTE); retry in {seconds} s"
            },
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )

    @staticmethod
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, f"no such path {request.url.path}; see /openapi.json")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    def _services(self) -> Services | None:
        return self._application.bot_data.services

    def _authorize(self, request: Request) -> Response | None:
        """None when the request carries the ingest token; else the answer to give."""
        token = self._application.bot_data.require_settings().ingest_token
        if token is None:
            return _error(404, "the API is off: set TAGWIRE_INGEST_TOKEN to turn it on")
        header = request.headers.get("authorization")
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return JSONResponse(
                {"error": "authentication required: send Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="tagwire"'},
            )
        if not hmac.compare_digest(credentials.strip().encode(), token.get_secret_value().encode()):
            return _error(403, "the token is wrong")
        # The token's own budget, whichever addresses it comes from.
        wait = self._limiter.take("token", time.monotonic())
        if wait:
            return self._too_many("with the token", wait)
        return None

    # Stories

    async def post_articles(self, request: Request) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        services = self._services()
        if services is None:
            return _error(503, "the bot is starting or stopping; try again shortly")
        try:
            body = await read_body(request)
        except _BodyTooLarge:
            return _error(
                413, f"the body is larger than {MAX_BODY_BYTES} bytes; send fewer stories at once"
            )
        if not body.strip():
            return _error(
                400, "the body is empty: send a story as a JSON object, or an array of stories"
            )
        document = _json_document(body)
        if isinstance(document, JSONResponse):
            return document
        if not isinstance(document, dict | list):
            return _error(400, "the body must be a story (a JSON object) or an array of stories")
        records = list(records_of(document))
        try:
            # One transaction for the whole request (1 MiB at most): stored whole, or not at all.
            report = await services.ingestor.ingest(
                records, keep_records=True, batch_size=max(1, len(records))
            )
        except StorageUnavailable as exc:
            logger.warning("POST /api/articles: %s", exc)
            return JSONResponse(
                {
                    "error": f"{exc}; nothing from this request was stored. Send it again "
                    "later: stories stored by then count as duplicates"
                },
                status_code=503,
                headers={"Retry-After": str(STORAGE_RETRY_AFTER)},
            )
        self._application.bot_data.metrics.count_ingest("api", report)
        by_position = {result.position: result for result in report.records}
        results = [
            _result_json(index, by_position[record.position])
            for index, record in enumerate(records)
        ]
        return JSONResponse(
            {
                "created": report.created,
                "duplicates": report.duplicates,
                "rejected": report.rejected,
                "deliveries_queued": report.recipients,
                "scheduled": report.scheduled,
                "corrected": report.corrected,
                "results": results,
            },
            status_code=201 if report.created else 200,
        )

    async def get_articles(self, request: Request) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        services = self._services()
        if services is None:
            return _error(503, "the bot is starting or stopping; try again shortly")
        tag_text = request.query_params.get("tag", "").strip()
        if not tag_text:
            return _error(400, "the query parameter tag is required, e.g. ?tag=Japan")
        limit = _parse_limit(request.query_params.get("limit"), DEFAULT_ARTICLES, MAX_ARTICLES)
        if limit is None:
            return _error(400, f"limit must be a whole number from 1 to {MAX_ARTICLES}")
        try:
            tag = await services.following.resolve(tag_text)
        except InvalidTag as exc:
            return _error(400, f"tag: {exc}")
        except UnknownTag as exc:
            return _error(
                404,
                f"no tag {exc.tag!r}",
                suggestions=[suggestion.name for suggestion in exc.suggestions],
            )
        articles = await services.store.latest_articles(tag.id, limit)
        return JSONResponse(
            {"tag": _tag_json(tag), "articles": [_article_json(a) for a in articles]}
        )

    async def article(self, request: Request) -> Response:
        """GET a story, PATCH it (a correction), DELETE it (a retraction). A retracted story
        answers 410 Gone to all three: its id stays known, and nothing of it is served."""
        denied = self._authorize(request)
        if denied is not None:
            return denied
        services = self._services()
        if services is None or services.corrections is None:
            return _error(503, "the bot is starting or stopping; try again shortly")
        raw = str(request.path_params["id"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            return _error(400, "the story id must be a whole number, as POST /api/articles gave it")
        article_id = int(raw)
        article = (await services.store.get_articles([article_id])).get(article_id)
        if article is None:
            return _error(404, f"no story {raw}")
        retracted_at = await services.store.retracted_at(article_id)
        if retracted_at is not None:
            return _error(410, f"story {raw} was retracted", retracted_at=_moment(retracted_at))
        if request.method == "GET":
            return JSONResponse(_article_json(article))
        if request.method == "DELETE":
            retraction = await services.corrections.retract(article_id)
            if retraction is None:
                return _error(404, f"no story {raw}")
            if retraction.already:
                return _error(
                    410,
                    f"story {raw} was retracted",
                    retracted_at=_moment(retraction.retracted_at),
                )
            return JSONResponse(
                {
                    "id": article_id,
                    "url": article.url,
                    "retracted_at": _moment(retraction.retracted_at),
                    "deliveries_cancelled": retraction.cancelled,
                    "deletes_queued": retraction.deletes_queued,
                }
            )
        return await self._patch(request, services.corrections, article_id)

    async def _patch(self, request: Request, corrections: Corrections, article_id: int) -> Response:
        try:
            body = await read_body(request)
        except _BodyTooLarge:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        document = _json_document(body)
        if isinstance(document, JSONResponse):
            return document
        if not isinstance(document, dict):
            return _error(400, "the body must be a JSON object with the fields to correct")
        try:
            changes = parse_changes(document)
        except InvalidArticle as exc:
            return _error(400, f"{exc.field}: {exc.reason}", field=exc.field)
        correction = await corrections.correct(article_id, changes)
        if correction is None:
            return _error(404, f"no story {article_id}")
        if correction.retracted:
            return _error(410, f"story {article_id} was retracted")
        return JSONResponse(
            {
                "story": _article_json(correction.article),
                "changed": correction.changed,
                "edits_queued": correction.edits_queued,
            }
        )

    async def get_report(self, request: Request) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        services = self._services()
        if services is None:
            return _error(503, "the bot is starting or stopping; try again shortly")
        raw = str(request.path_params["id"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            return _error(400, "the story id must be a whole number, as POST /api/articles gave it")
        report = await services.store.story_report(int(raw))
        if report is None:
            return _error(404, f"no story {raw}")
        return JSONResponse(_report_json(report))

    async def get_tags(self, request: Request) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        services = self._services()
        if services is None:
            return _error(503, "the bot is starting or stopping; try again shortly")
        limit = _parse_limit(request.query_params.get("limit"), DEFAULT_TAGS, MAX_TAGS_LISTED)
        if limit is None:
            return _error(400, f"limit must be a whole number from 1 to {MAX_TAGS_LISTED}")
        tags = await services.store.list_tags(limit)
        return JSONResponse({"tags": [_tag_json(tag) for tag in tags]})

    # Operations

    async def healthz(self, request: Request) -> Response:
        services = self._services()
        database = False
        if services is not None:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT):
                    # Readable, and writable: a full disk still answers SELECT 1.
                    database = (
                        await services.store.ping() and await services.store.write_problem() is None
                    )
            except TimeoutError:
                database = False
        application = self._application
        leads = application.bot_data.role == "leader"
        if self._webhook is not None or not leads:
            # A follower in polling mode does not poll: Telegram allows one poller.
            running = application.running
        else:
            updater = application.updater
            running = application.running and updater is not None and updater.running
        healthy = database and running
        return JSONResponse(
            {
                "status": "ok" if healthy else "unavailable",
                "database": "ok" if database else "unavailable",
                "bot": "running" if running else "stopped",
                "mode": "webhook" if self._webhook is not None else "polling",
                "instance": application.bot_data.instance_name,
                "role": application.bot_data.role,
            },
            status_code=200 if healthy else 503,
        )

    async def metrics(self, request: Request) -> Response:
        services = self._services()
        figures: OutboxFigures | None = None
        if services is not None:
            try:
                figures = await services.store.outbox_figures()
            except Exception as exc:
                logger.warning("metrics: cannot read the outbox: %s", exc)
        state = self._application.bot_data
        metrics = state.metrics
        exposition = metrics.exposition(
            figures, instance=state.instance_name, leads=state.role == "leader"
        )
        return Response(exposition, media_type=metrics.content_type)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(
            openapi_document(self._webhook.path if self._webhook is not None else None)
        )

    # Telegram

    async def telegram_update(self, request: Request) -> Response:
        assert self._webhook is not None
        counter = self._application.bot_data.metrics.webhook_requests
        if not self._webhook.accepts(request.headers.get(SECRET_HEADER)):
            counter.labels(result="forbidden").inc()
            return _error(403, f"the {SECRET_HEADER} header is missing or wrong")
        try:
            data = json.loads(await read_body(request))
            update = Update.de_json(data, self._application.bot)
        except _BodyTooLarge:
            counter.labels(result="bad_request").inc()
            return _error(413, "an update is never that large")
        except (ValueError, TypeError, KeyError, RecursionError, AttributeError) as exc:
            counter.labels(result="bad_request").inc()
            logger.warning("webhook: a request with the right secret is not an update: %s", exc)
            return _error(400, "the body is not a Telegram update")
        counter.labels(result="accepted").inc()
        await self._application.update_queue.put(update)
        return Response(status_code=200)
