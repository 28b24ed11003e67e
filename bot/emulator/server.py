"""The emulator's HTTP side: uvicorn serving `/bot<token>/<method>` on a loopback address
inside the running event loop, the dispatch of each request through the armed faults to its
method, and Telegram's JSON envelope around the answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.emulator.answers import ApiCall, ApiError, DropConnection, JSONDict, Reply
from bot.emulator.faults import Faults
from bot.emulator.files import PATH_PREFIX
from bot.emulator.params import loopback_host, read_params
from bot.web.server import LocalServer

# Named for the package, as before it was split, so log filters and captures keep matching.
_log = logging.getLogger("bot.emulator")

Handler = Callable[[JSONDict], Awaitable[Any]]

_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")


def _tracking_protocol(registry: dict[tuple[str, int], asyncio.Transport]) -> type[H11Protocol]:
    """An h11 protocol that records each connection's transport by the client's address.

    ASGI gives an application no way to abort its connection; the emulator needs exactly that to
    make clients see a network error, so it finds the transport by `scope["client"]`.
    """

    class _TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client is not None:
                registry[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None:
                registry.pop(self.client, None)
            super().connection_lost(exc)

    return _TrackingH11Protocol


class HttpServer(Faults):
    """start/stop, the server's URLs, and one request's way from HTTP to a method and back."""

    # Filled by BotApiEmulator: only the assembled class has every method family's handlers.
    _methods: dict[str, Handler]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if not loopback_host(host):
            raise ValueError("the emulator only listens on loopback addresses")
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        server = LocalServer(app, http_protocol=_tracking_protocol(self._transports))
        await server.start(host, port)
        self._stopping = False
        self._server = server
        if self.webhook is not None:
            self._start_webhook_delivery()

    async def stop(self) -> None:
        server = self._server
        if server is None:
            return
        # Wake long polls and latency sleeps first: uvicorn waits for open requests to finish.
        self._stopping = True
        self._updates_signal.notify()
        self._stop_signal.notify()
        self._release_holds()
        await self._cancel_webhook_delivery()
        try:
            await server.stop()
        finally:
            self._server = None
            self._stopping = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def answering(self) -> int:
        """Requests being answered now (waiting out latency or a hold() included)."""
        return self._answering

    @property
    def idle(self) -> bool:
        """True when no client is connected and no request is being answered: once a client
        has been killed, every request it had sent has been handled (its bytes were read
        before its connection's end, and each request's handling starts as it is read)."""
        return not self._transports and self._answering == 0

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._server.url

    @property
    def base_url(self) -> str:
        """What to pass as python-telegram-bot's `base_url`; it appends the token."""
        return f"{self.url}/bot"

    @property
    def api_url(self) -> str:
        """The full prefix of method URLs, token included: f"{api_url}/getMe"."""
        return f"{self.base_url}{self.token}"

    async def _download(self, request: Request) -> Response:
        """GET /file/bot<token>/<file_path>: the bytes of a file getFile named."""
        path = str(request.path_params["path"])
        found = self._files.get(path.removeprefix(PATH_PREFIX))
        if request.path_params["token"] != self.token or not path.startswith(PATH_PREFIX):
            found = None
        if found is None:
            return await self._not_found(request)
        return Response(found[0], media_type="application/octet-stream")

    async def _not_found(self, request: Request) -> Response:
        return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _endpoint(self, request: Request) -> Response:
        self._answering += 1
        try:
            return await self._answer(request)
        finally:
            self._answering -= 1

    async def _answer(self, request: Request) -> Response:
        arrived = time.monotonic()
        method = str(request.path_params["method"])
        token = str(request.path_params["token"])
        params: JSONDict = {}
        try:
            params = await read_params(request)
            result = await self._dispatch(token, method.lower(), params)
        except DropConnection as drop:
            self._record(
                ApiCall(method, params, 0, {"answer_lost": True} if drop.handled else {}, arrived)
            )
            await self._drop(request)
            return Response(status_code=500)
        except ApiError as error:
            status, body = error.status, error.body()
        except Exception:
            _log.exception("the emulator failed on %s", method)
            status = 500
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        else:
            status = 200
            if isinstance(result, Reply):
                body = {"ok": True, "result": result.result, "description": result.description}
            else:
                body = {"ok": True, "result": result}
        self._record(ApiCall(method, params, status, body, arrived))
        return _json_response(status, body)

    async def _drop(self, request: Request) -> None:
        client = request.scope.get("client")
        transport = self._transports.get(tuple(client)) if client else None
        if transport is None:
            return
        transport.abort()
        # Returning before uvicorn notices the disconnect would make it log and send a 500.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while (await request.receive())["type"] != "http.disconnect":
                    pass

    async def _dispatch(self, token: str, method: str, params: JSONDict) -> Any:
        if self._offline:
            raise DropConnection
        if token != self.token:
            if _TOKEN_SHAPE.fullmatch(token):
                raise ApiError(401, "Unauthorized")
            raise ApiError(404, "Not Found")
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        faults = self._faults
        spared = method == "getupdates" and (faults is None or not faults.include_get_updates)
        if method != "getupdates":
            await self._sleep(self.latency)
            if self._offline:
                raise DropConnection
        if faults is not None and not spared:
            await self._random_fault(faults)
        if self._holds:
            await self._wait_if_held(method, params)
        self._apply_fail_rules(method, params)
        result = await handler(params)
        if faults is not None and not spared:
            self._lose_answer(faults)
        return result


def _json_response(status: int, body: JSONDict) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(content, status_code=status, media_type="application/json")
