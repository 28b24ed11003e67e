"""The HTTP side of the bot: the ingestion API, health, metrics, the OpenAPI document generated
from the models of `bot.web.schemas` (/openapi.json, and Swagger UI at /docs) and, in webhook
mode, the path Telegram posts updates to. It runs in the bot's own event loop and reaches the
same services the handlers use.

FastAPI routes the requests and writes the document; the checks stay tagwire's own and in
today's order: every /api request is counted against its address, then the token is checked
and counted, then the parameters (400), then the body, read as it streams in (413)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from telegram import Update

from bot.context import Services, TagwireApplication
from bot.errors import InvalidArticle, InvalidTag, UnknownTag
from bot.intake.corrections import Corrections, parse_changes
from bot.intake.ingest import RecordResult, parse_json, records_of
from bot.web import schemas
from bot.web.schemas import error_responses
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

# Ids are 64-bit in both databases; 18 digits always fit.
MAX_STORY_ID = 10**18 - 1
DOCS_ASSETS = "/docs/static"
# Swagger UI's files, as the fastapi-offline package ships them (Swagger UI 5: it reads
# OpenAPI 3.1, which the swagger-ui-bundle package's 4.15 cannot).
SWAGGER_UI_FILES = files("fastapi_offline") / "static"


class _BodyTooLarge(Exception):
    pass


class _Refused(Exception):
    """Raised by a check that answers the request itself (401, 403, 429, 503...)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


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


def _answer(model: BaseModel, status: int = 200) -> Response:
    # Fields left out of the model's constructor stay out of the answer (a rejected story has
    # no id), as they always have.
    return Response(
        model.model_dump_json(exclude_unset=True),
        status_code=status,
        media_type="application/json",
    )


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


def _tag(tag: Tag) -> schemas.TagFigures:
    return schemas.TagFigures(
        name=tag.name, story_count=tag.story_count, follower_count=tag.follower_count
    )


def _story(article: Article) -> schemas.Story:
    return schemas.Story(
        id=article.id,
        url=article.url,
        title=article.title,
        teaser=article.teaser,
        tags=list(article.tags),
        source=article.source,
        published_at=article.published_at,
        image=article.image,
    )


def _echo(text: str | None) -> str | None:
    """Client input shown back: a lone surrogate (`"\\ud800"` in the JSON) cannot be encoded
    in the UTF-8 answer, so it is shown as its escape."""
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _result(index: int, record: RecordResult) -> schemas.StoryResult:
    if record.rejection is not None:
        return schemas.StoryResult(
            index=index,
            status="rejected",
            url=_echo(record.url),
            field=record.rejection.field,
            reason=record.rejection.reason,
        )
    assert record.result is not None
    result = record.result
    if result.publish_at is None:
        return schemas.StoryResult(
            index=index,
            status=result.status.value,
            id=result.article_id,
            url=result.url,
            deliveries_queued=result.recipients,
        )
    return schemas.StoryResult(
        index=index,
        status=result.status.value,
        id=result.article_id,
        url=result.url,
        deliveries_queued=result.recipients,
        publish_at=_when(result.publish_at),
    )


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else _when(timestamp)


def _failures(failures: Sequence[tuple[str, int]]) -> list[schemas.FailureCount]:
    return [schemas.FailureCount(reason=reason, count=count) for reason, count in failures]


def _report(report: StoryReport) -> schemas.StoryReport:
    schedule = report.schedule
    scheduled = None
    if schedule is not None:
        state = "held" if schedule.held else "cancelled" if schedule.cancelled_at else "released"
        scheduled = schemas.Schedule(
            state=state,
            publish_at=_moment(schedule.publish_at),
            released_at=_moment(schedule.released_at),
            cancelled_at=_moment(schedule.cancelled_at),
        )
    return schemas.StoryReport(
        story=_story(report.article),
        scheduled=scheduled,
        chats=report.chats,
        sent=report.sent,
        pending=report.pending,
        held=report.held,
        skipped=schemas.Skipped(muted=report.skipped_muted, inactive=report.skipped_inactive),
        failed=report.failed,
        failures=_failures(report.failures),
        queued_at=_moment(report.queued_at),
        first_sent_at=_moment(report.first_sent_at),
        last_sent_at=_moment(report.last_sent_at),
        half_after_seconds=report.half_after,
        all_after_seconds=report.all_after,
        edits=None if report.edits is None else _edits(report.edits),
    )


def _edits(edits: EditFigures) -> schemas.StoryEdits:
    return schemas.StoryEdits(
        corrections=edits.corrections,
        edited=edits.edited,
        unchanged=edits.unchanged,
        edits_pending=edits.edits_pending,
        retracted_at=_moment(edits.retracted_at),
        cancelled=edits.cancelled,
        deleted=edits.deleted,
        noted=edits.noted,
        deletes_pending=edits.deletes_pending,
        skipped=edits.skipped,
        failed=edits.failed,
        failures=_failures(edits.failures),
    )


def _parameter_problem(route: APIRoute, error: dict[str, Any]) -> str:
    """Today's words for a query or path parameter FastAPI refused."""
    name = str(error["loc"][-1])
    if name == "id":
        return "the story id must be a whole number, as POST /api/articles gave it"
    if error["type"] == "missing":
        return f"the query parameter {name} is required, e.g. ?{name}=Japan"
    for field in route.dependant.query_params:
        if field.name == name:
            bounds = {
                key: value
                for constraint in field.field_info.metadata
                for key in ("ge", "le")
                if (value := getattr(constraint, key, None)) is not None
            }
            if bounds:
                return f"{name} must be a whole number from {bounds['ge']} to {bounds['le']}"
    return f"{name}: {error['msg']}"


class _GuardedRoute(APIRoute):
    """A route whose handler answers whatever happens: a refusal, a parameter FastAPI could
    not take (400, never FastAPI's 422), the database unavailable (503), a client gone, or
    anything unforeseen (500, logged). `admit`, when set, sees the request first, before
    FastAPI reads its parameters (a FastAPI dependency would do the same at several times the
    cost a request; bench/api.py)."""

    admit: Callable[[Request], None] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if self.admit is not None:
                    self.admit(request)
                return await handler(request)
            except _Refused as refusal:
                return refusal.response
            except RequestValidationError as exc:
                return _error(400, _parameter_problem(self, dict(exc.errors()[0])))
            except HTTPException:
                raise
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


class _Document(FastAPI):
    """FastAPI, plus the request bodies the handlers read themselves (to cap them as they
    stream in) among the document's schemas."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            found = document.setdefault("components", {}).setdefault("schemas", {})
            # FastAPI declares its 422 wherever there are parameters; a parameter it cannot
            # take is a 400 here (_GuardedRoute), already declared.
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
            for unused in ("HTTPValidationError", "ValidationError"):
                found.pop(unused, None)
            used = {
                name
                for operations in document["paths"].values()
                for operation in operations.values()
                for requirement in operation.get("security", ())
                for name in requirement
            }
            document["components"]["securitySchemes"] = {
                name: scheme for name, scheme in _SECURITY_SCHEMES.items() if name in used
            }
            for model in (schemas.StoryIn, schemas.StoryChanges):
                found[model.__name__] = model.model_json_schema(ref_template=_REF + "{model}")
        return self.openapi_schema or {}


_REF = "#/components/schemas/"
_JSON = "application/json"
# How the document says what a route needs: the token as a bearer, as _authorize checks it;
# Telegram's secret header for the webhook path.
_SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "TAGWIRE_INGEST_TOKEN"},
    "telegramSecret": {"type": "apiKey", "in": "header", "name": SECRET_HEADER},
}
_NEEDS_TOKEN: dict[str, Any] = {"security": [{"bearerAuth": []}]}
StoryId = Annotated[
    int,
    Path(ge=1, le=MAX_STORY_ID, description="The story's id, as POST /api/articles answered it."),
]
ArticlesLimit = Annotated[int, Query(ge=1, le=MAX_ARTICLES)]
TagsLimit = Annotated[int, Query(ge=1, le=MAX_TAGS_LISTED)]
TagQuery = Annotated[str, Query(description="Any spelling: japan, Japan and #Japan are one tag.")]

_AUTH_ERRORS = {
    401: "No `Authorization: Bearer <token>` header.",
    403: "The token is wrong.",
    404: "The API is off (TAGWIRE_INGEST_TOKEN is not set).",
    429: "Too many requests from this address, or with this token "
    "(TAGWIRE_API_REQUESTS_PER_MINUTE); `Retry-After` says when to try again.",
    503: "The bot is starting or stopping, or the database is unavailable; `Retry-After` "
    "says when to try again when it is the database.",
}
_NO_STORY = "No story has this id, or the API is off."
_BAD_ID = "The id is not a whole number from 1."


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": schema}}}}


class OperatorApi:
    """The ASGI app; every answer is JSON except /metrics and /docs."""

    def __init__(self, application: TagwireApplication, webhook: WebhookConfig | None) -> None:
        self._application = application
        self._webhook = webhook
        settings = application.bot_data.require_settings()
        self._limit = settings.api_requests_per_minute
        self._limiter = RequestLimiter(self._limit)
        docs = settings.api_docs and settings.ingest_token is not None
        self.app = _Document(
            title="tagwire",
            version="0.1.0",
            description="Push stories to a tagwire bot and watch it. /api routes need "
            "`Authorization: Bearer <TAGWIRE_INGEST_TOKEN>` (Authorize, in /docs).",
            openapi_url="/openapi.json",
            docs_url=None,
            redoc_url=None,
            exception_handlers={HTTPException: self._http_error},
        )
        self._add_api_routes()
        self._add_operation_routes()
        if docs:
            self.app.mount(DOCS_ASSETS, StaticFiles(directory=str(SWAGGER_UI_FILES)), name="docs")
            self.app.add_api_route("/docs", self.docs, methods=["GET"], include_in_schema=False)

    def _route(
        self, path: str, endpoint: Callable[..., Any], method: str, *, api: bool, **options: Any
    ) -> None:
        """A route of the app, guarded; with `api`, behind the address limit and the token."""
        if api:
            options["openapi_extra"] = {**options.get("openapi_extra", {}), **_NEEDS_TOKEN}
        self.app.router.add_api_route(
            path, endpoint, methods=[method], route_class_override=_GuardedRoute, **options
        )
        if api:
            route = self.app.router.routes[-1]
            assert isinstance(route, _GuardedRoute)
            route.admit = self._admit

    def _add_api_routes(self) -> None:
        self._route(
            "/api/articles",
            self.post_articles,
            "POST",
            api=True,
            status_code=201,
            summary="Add one story or several",
            description="Each story is validated on its own: a bad one is reported with its "
            "field and reason and the others are stored. Followers of a new story's tags are "
            "notified at once (a scheduled one's at its publish_at). The body is at most "
            "1 MiB.",
            responses={
                201: {"model": schemas.IngestAnswer, "description": "At least one was new."},
                200: {"model": schemas.IngestAnswer, "description": "Nothing was new."},
                **error_responses(
                    {
                        400: "The body is empty, not UTF-8, or not JSON.",
                        413: "The body is larger than 1 MiB.",
                        **_AUTH_ERRORS,
                        503: "The database cannot take the stories just now (disk full, or "
                        "locked past its timeout): nothing of the request was stored. "
                        "`Retry-After`.",
                    }
                ),
            },
            openapi_extra=_body(
                {
                    "oneOf": [
                        {"$ref": _REF + "StoryIn"},
                        {"type": "array", "items": {"$ref": _REF + "StoryIn"}},
                    ]
                }
            ),
        )
        self._route(
            "/api/articles",
            self.get_articles,
            "GET",
            api=True,
            summary="The newest stories of a tag",
            responses={
                200: {"model": schemas.TagStories, "description": "Newest first."},
                **error_responses(
                    {
                        400: "No tag, a tag that cannot be one, or a bad limit.",
                        **_AUTH_ERRORS,
                        404: "No such tag (with suggestions), or the API is off.",
                    }
                ),
            },
        )
        self._route(
            "/api/articles/{id}",
            self.get_article,
            "GET",
            api=True,
            summary="One story",
            responses={
                200: {"model": schemas.Story, "description": "The story."},
                **error_responses(
                    {400: _BAD_ID, **_AUTH_ERRORS, 404: _NO_STORY, 410: "It was retracted."}
                ),
            },
        )
        self._route(
            "/api/articles/{id}",
            self.patch_article,
            "PATCH",
            api=True,
            summary="Correct a story",
            description="Stores the new version and edits every teaser already delivered for "
            "it in place (editMessageText, or editMessageCaption for a photo), at the bot's "
            "limits; a teaser still pending goes out with the new text. A digest or combined "
            "message is rendered again from its stories and edited once.",
            responses={
                200: {"model": schemas.Correction, "description": "Stored; edits queued."},
                **error_responses(
                    {
                        400: "The id, or the body: not a JSON object, or a field is wrong "
                        "(`field` names it).",
                        **_AUTH_ERRORS,
                        404: _NO_STORY,
                        410: "The story was retracted: it cannot be corrected.",
                        413: "The body is larger than 1 MiB.",
                    }
                ),
            },
            openapi_extra=_body({"$ref": _REF + "StoryChanges"}),
        )
        self._route(
            "/api/articles/{id}",
            self.delete_article,
            "DELETE",
            api=True,
            summary="Retract a story",
            description="Irreversible: the story leaves the lists, searches and tag counts; "
            "its pending deliveries are cancelled (one already in flight finishes and is then "
            "deleted); its delivered teasers are deleted, or past Telegram's 48 hours edited "
            "into a short withdrawn note. Afterwards the story answers 410.",
            responses={
                200: {"model": schemas.Retraction, "description": "Retracted."},
                **error_responses(
                    {400: _BAD_ID, **_AUTH_ERRORS, 404: _NO_STORY, 410: "Retracted already."}
                ),
            },
        )
        self._route(
            "/api/articles/{id}/report",
            self.get_report,
            "GET",
            api=True,
            summary="What became of a story's deliveries",
            description="How many chats it was for; sent, pending, skipped and failed (by "
            "reason); the first and last send; how long it took to reach half and all of its "
            "chats. A scheduled story's report says when it goes out. Finished deliveries are "
            "pruned after 7 days, and their figures with them.",
            responses={
                200: {"model": schemas.StoryReport, "description": "The report."},
                **error_responses({400: _BAD_ID, **_AUTH_ERRORS, 404: _NO_STORY}),
            },
        )
        self._route(
            "/api/tags",
            self.get_tags,
            "GET",
            api=True,
            summary="Tags with their story and follower counts, most stories first",
            responses={
                200: {"model": schemas.TagList, "description": "The tags."},
                **error_responses({400: "A bad limit.", **_AUTH_ERRORS}),
            },
        )

    def _add_operation_routes(self) -> None:
        self._route(
            "/healthz",
            self.healthz,
            "GET",
            api=False,
            summary="Whether the database answers and the bot is running",
            responses={
                200: {"model": schemas.Health, "description": "Healthy."},
                503: {"model": schemas.Health, "description": "The database or the bot is down."},
            },
        )
        self._route(
            "/metrics",
            self.metrics,
            "GET",
            api=False,
            summary="Prometheus metrics (text exposition format)",
            response_class=PlainTextResponse,
            responses={
                200: {
                    "description": "Counters of this process and outbox gauges.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        )
        if self._webhook is not None:
            self._route(
                self._webhook.path,
                self.telegram_update,
                "POST",
                api=False,
                summary="Telegram posts updates here (webhook mode)",
                responses={
                    200: {"description": "Queued for the bot."},
                    **error_responses(
                        {
                            400: "The body is not an update.",
                            403: "The secret token header is missing or wrong.",
                            413: "The body is larger than 1 MiB.",
                        }
                    ),
                },
                openapi_extra={
                    "security": [{"telegramSecret": []}],
                    **_body(
                        {
                            "type": "object",
                            "description": "A Telegram Update.",
                            "required": ["update_id"],
                        }
                    ),
                },
            )

    # Plumbing

    def _admit(self, request: Request) -> None:
        """Counts every /api request against its client address before anything else, so that
        guessing the token is as slow as using it; then the token; then whether the bot is
        up. Raises _Refused with the answer when the request goes no further."""
        address = request.client.host if request.client is not None else "unknown"
        wait = self._limiter.take(f"address {address}", time.monotonic())
        if wait:
            raise _Refused(self._too_many("from one address", wait))
        denied = self._authorize(request)
        if denied is not None:
            raise _Refused(denied)
        if self._services() is None:
            raise _Refused(_error(503, "the bot is starting or stopping; try again shortly"))

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

    def _running(self) -> Services:
        services = self._services()
        if services is None:
            raise _Refused(_error(503, "the bot is starting or stopping; try again shortly"))
        return services

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
        services = self._running()
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
        answer = schemas.IngestAnswer(
            created=report.created,
            duplicates=report.duplicates,
            rejected=report.rejected,
            deliveries_queued=report.recipients,
            scheduled=report.scheduled,
            corrected=report.corrected,
            results=[
                _result(index, by_position[record.position]) for index, record in enumerate(records)
            ],
        )
        return _answer(answer, 201 if report.created else 200)

    async def get_articles(
        self, tag: TagQuery, limit: ArticlesLimit = DEFAULT_ARTICLES
    ) -> Response:
        services = self._running()
        tag_text = tag.strip()
        if not tag_text:
            return _error(400, "the query parameter tag is required, e.g. ?tag=Japan")
        try:
            found = await services.following.resolve(tag_text)
        except InvalidTag as exc:
            return _error(400, f"tag: {exc}")
        except UnknownTag as exc:
            return _error(
                404,
                f"no tag {exc.tag!r}",
                suggestions=[suggestion.name for suggestion in exc.suggestions],
            )
        articles = await services.store.latest_articles(found.id, limit)
        return _answer(schemas.TagStories(tag=_tag(found), articles=[_story(a) for a in articles]))

    async def _live_article(self, services: Services, article_id: int) -> Article:
        """The story, unless there is none (404) or it was retracted (410): its id stays
        known, and nothing of it is served."""
        article = (await services.store.get_articles([article_id])).get(article_id)
        if article is None:
            raise _Refused(_error(404, f"no story {article_id}"))
        retracted_at = await services.store.retracted_at(article_id)
        if retracted_at is not None:
            raise _Refused(
                _error(
                    410,
                    f"story {article_id} was retracted",
                    retracted_at=_when(retracted_at).isoformat(),
                )
            )
        return article

    def _corrections(self) -> tuple[Services, Corrections]:
        services = self._running()
        if services.corrections is None:
            raise _Refused(_error(503, "the bot is starting or stopping; try again shortly"))
        return services, services.corrections

    async def get_article(self, id: StoryId) -> Response:
        services, _ = self._corrections()
        return _answer(_story(await self._live_article(services, id)))

    async def delete_article(self, id: StoryId) -> Response:
        """A retraction."""
        services, corrections = self._corrections()
        article = await self._live_article(services, id)
        retraction = await corrections.retract(id)
        if retraction is None:
            return _error(404, f"no story {id}")
        if retraction.already:
            return _error(
                410,
                f"story {id} was retracted",
                retracted_at=_when(retraction.retracted_at).isoformat(),
            )
        return _answer(
            schemas.Retraction(
                id=id,
                url=article.url,
                retracted_at=_when(retraction.retracted_at),
                deliveries_cancelled=retraction.cancelled,
                deletes_queued=retraction.deletes_queued,
            )
        )

    async def patch_article(self, request: Request, id: StoryId) -> Response:
        """A correction."""
        services, corrections = self._corrections()
        await self._live_article(services, id)
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
        correction = await corrections.correct(id, changes)
        if correction is None:
            return _error(404, f"no story {id}")
        if correction.retracted:
            return _error(410, f"story {id} was retracted")
        return _answer(
            schemas.Correction(
                story=_story(correction.article),
                changed=correction.changed,
                edits_queued=correction.edits_queued,
            )
        )

    async def get_report(self, id: StoryId) -> Response:
        services = self._running()
        report = await services.store.story_report(id)
        if report is None:
            return _error(404, f"no story {id}")
        return _answer(_report(report))

    async def get_tags(self, limit: TagsLimit = DEFAULT_TAGS) -> Response:
        services = self._running()
        tags = await services.store.list_tags(limit)
        return _answer(schemas.TagList(tags=[_tag(tag) for tag in tags]))

    # Operations

    async def healthz(self) -> Response:
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
        return _answer(
            schemas.Health(
                status="ok" if healthy else "unavailable",
                database="ok" if database else "unavailable",
                bot="running" if running else "stopped",
                mode="webhook" if self._webhook is not None else "polling",
                instance=application.bot_data.instance_name,
                role=application.bot_data.role,
            ),
            200 if healthy else 503,
        )

    async def metrics(self) -> Response:
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

    async def docs(self) -> HTMLResponse:
        """Swagger UI, from the files of the swagger-ui-bundle package: no CDN."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="tagwire API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
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
