"""The sandbox page's web app: the page itself, its event stream and the actions it can take.

Readers' actions go to the emulator as Telegram updates (send_text, press_button); the operator's
story goes through the running bot's own Ingestor; the fault switches set the emulator's faults.
Only loopback hosts are served, and actions take JSON only, so another site open in the same
browser cannot post to them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.emulator import MAX_CALLBACK_DATA_BYTES, MAX_TEXT_LENGTH, BotApiEmulator
from bot.intake.ingest import Ingestor, RecordResult, records_of
from bot.sandbox.cast import Cast, SandboxChat
from bot.sandbox.feed import Feed, PageEvent
from storage.models import IngestStatus

# Seconds between keep-alive comments on an idle event stream.
HEARTBEAT = 15.0
# A 429 the operator asks for waits this long, so the retry is easy to see in the log.
FORCED_RETRY_AFTER = 3
# Flood limits strict enough to meet with a few clicks; Telegram's own are 1 a second per
# private chat, 20 a minute per group and about 30 a second in all.
STRICT_PER_SECOND = 5.0
STRICT_PER_CHAT_INTERVAL = 3.0
STRICT_GROUP_PER_MINUTE = 6

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Pictures of stories come from anywhere an operator points to.
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: "
        "https:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class BadAction(Exception):
    """The page asked for something impossible; the message says what."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(
    emulator: BotApiEmulator,
    cast: Cast,
    feed: Feed,
    ingestor: Callable[[], Ingestor | None],
) -> Starlette:
    """`ingestor` returns the running bot's Ingestor, or None while the bot is starting."""
    actions = _Actions(emulator, cast, feed, ingestor)
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/events", actions.events, methods=["GET"]),
        Route("/api/send", _action(actions.send), methods=["POST"]),
        Route("/api/press", _action(actions.press), methods=["POST"]),
        Route("/api/push", _action(actions.push), methods=["POST"]),
        Route("/api/faults/flood", _action(actions.flood), methods=["POST"]),
        Route("/api/faults/next-429", _action(actions.next_429), methods=["POST"]),
        Route("/api/faults/block", _action(actions.block), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("bot.sandbox", "static")]), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
            Middleware(_SecurityHeaders),
        ],
    )


async def _index(request: Request) -> Response:
    page = resources.files("bot.sandbox").joinpath("static", "index.html").read_text("utf-8")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(
                    (name.lower().encode(), value.encode())
                    for name, value in _SECURITY_HEADERS.items()
                )
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _action(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON-in, JSON-out endpoint; a BadAction becomes {"ok": false, "error": ...}."""

    async def endpoint(request: Request) -> Response:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return JSONResponse({"ok": False, "error": "send JSON"}, status_code=415)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "the body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"ok": False, "error": "send a JSON object"}, status_code=400)
        try:
            # JSON may spell a lone surrogate ("\ud800"); no Telegram client can send one, and
            # queued as an update it would make every later getUpdates answer fail.
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            return JSONResponse(
                {"ok": False, "error": "the text is not valid Unicode"}, status_code=400
            )
        try:
            answer = await handler(body)
        except BadAction as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=exc.status)
        return JSONResponse({"ok": True, **answer})

    return endpoint


class _Actions:
    def __init__(
        self,
        emulator: BotApiEmulator,
        cast: Cast,
        feed: Feed,
        ingestor: Callable[[], Ingestor | None],
    ) -> None:
        self._emulator = emulator
        self._cast = cast
        self._feed = feed
        self._ingestor = ingestor

    async def events(self, request: Request) -> Response:
        if self._feed.closed:
            return Response("the sandbox is stopping", status_code=503)
        subscription = self._feed.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                # Reconnect quickly after a restart; the new stream starts with a snapshot.
                yield "retry: 1000\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if event is None:
                        return
                    yield _server_sent_event(event)
            finally:
                self._feed.unsubscribe(subscription)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        chat, user_id = self._chat_and_member(body)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadAction("type a message first")
        if len(text) > MAX_TEXT_LENGTH:
            raise BadAction(f"a message has at most {MAX_TEXT_LENGTH} characters")
        update = self._emulator.send_text(chat.id, user_id, text)
        return {"message_id": update["message"]["message_id"]}

    async def press(self, body: dict[str, Any]) -> dict[str, Any]:
        chat, user_id = self._chat_and_member(body)
        message_id = body.get("message_id")
        data = body.get("data")
        if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id <= 0:
            raise BadAction("message_id must be a message's id")
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise BadAction("data must be a button's callback data")
        self._emulator.press_button(chat.id, user_id, message_id, data)
        return {}

    async def push(self, body: dict[str, Any]) -> dict[str, Any]:
        ingestor = self._ingestor()
        if ingestor is None:
            raise BadAction("the bot is still starting; try again in a moment", status=503)
        record: dict[str, Any] = {"source": "sandbox"}
        for key in ("url", "title", "teaser", "published_at", "image"):
            value = body.get(key)
            if value is not None and value != "":
                record[key] = value
        tags = body.get("tags")
        # The form sends "Japan, Kuril Islands"; a tag may contain spaces but no comma.
        record["tags"] = (
            [tag.strip() for tag in tags.split(",") if tag.strip()]
            if isinstance(tags, str)
            else tags
        )
        report = await ingestor.ingest(records_of(record), keep_records=True)
        results = [_record_result(result) for result in report.records]
        for result in results:
            summary = str(body.get("title") or body.get("url") or "")
            self._feed.note("push", summary, f"{result['status']}: {result['detail']}")
        return {"results": results}

    async def flood(self, body: dict[str, Any]) -> dict[str, Any]:
        on = body.get("on")
        if not isinstance(on, bool):
            raise BadAction("on must be true or false")
        if on:
            self._emulator.enforce_limits(
                per_second=STRICT_PER_SECOND,
                per_chat_interval=STRICT_PER_CHAT_INTERVAL,
                group_per_minute=STRICT_GROUP_PER_MINUTE,
            )
            self._feed.note(
                "flood limits on",
                f"at most 1 message per {STRICT_PER_CHAT_INTERVAL:g} s to a reader, "
                f"{STRICT_GROUP_PER_MINUTE} a minute to a group, {STRICT_PER_SECOND:g} a second",
                "beyond them sends answer 429",
            )
        else:
            self._emulator.enforce_limits(
                per_second=None, per_chat_interval=None, group_per_minute=None
            )
            self._feed.note("flood limits off", "", "no more 429 for going fast")
        self._feed.refresh_faults()
        return {}

    async def next_429(self, body: dict[str, Any]) -> dict[str, Any]:
        self._emulator.fail_next("sendMessage", status=429, retry_after=FORCED_RETRY_AFTER)
        self._feed.note(
            "429 next send",
            f"the next sendMessage answers 429, retry after {FORCED_RETRY_AFTER} s",
            "armed",
        )
        return {}

    async def block(self, body: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(body)
        on = body.get("on")
        if not isinstance(on, bool):
            raise BadAction("on must be true or false")
        # Silently, unlike Telegram's my_chat_member update: the bot learns of it from the 403
        # its next send meets, which is what the delivery engine has to cope with.
        if chat.kind == "private":
            (self._emulator.block if on else self._emulator.unblock)(chat.id)
            what = f"{chat.title} blocked the bot" if on else f"{chat.title} unblocked the bot"
        else:
            (self._emulator.kick if on else self._emulator.unkick)(chat.id)
            what = f"bot removed from {chat.title}" if on else f"bot back in {chat.title}"
        self._feed.note("403" if on else "reachable", what, "", chat_id=chat.id)
        self._feed.refresh_faults()
        return {}

    def _chat(self, body: dict[str, Any]) -> SandboxChat:
        chat_id = body.get("chat_id")
        chat = self._cast.chat(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise BadAction("chat_id must be one of the sandbox's chats")
        return chat

    def _chat_and_member(self, body: dict[str, Any]) -> tuple[SandboxChat, int]:
        chat = self._chat(body)
        user_id = body.get("user_id")
        if not isinstance(user_id, int) or chat.member(user_id) is None:
            raise BadAction(f"user_id must be a member of {chat.title}")
        return chat, user_id


def _record_result(result: RecordResult) -> dict[str, Any]:
    if result.rejection is not None:
        rejection = result.rejection
        return {
            "position": result.position,
            "status": "rejected",
            "url": result.url,
            "field": rejection.field,
            "reason": rejection.reason,
            "detail": f"{rejection.field}: {rejection.reason}",
        }
    assert result.result is not None
    created = result.result.status is IngestStatus.CREATED
    recipients = result.result.recipients
    if created:
        detail = f"{recipients} {'delivery' if recipients == 1 else 'deliveries'} queued"
    else:
        detail = "this URL is stored already; nobody notified"
    return {
        "position": result.position,
        "status": "created" if created else "duplicate",
        "url": result.url,
        "recipients": recipients,
        "detail": detail,
    }


def _server_sent_event(event: PageEvent) -> str:
    # JSON never contains a raw newline, so one data line carries the whole event.
    return f"data: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
