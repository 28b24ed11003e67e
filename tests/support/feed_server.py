"""A local web server that plays the feeds of the tests: fixture files, ETags, errors, hangs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.web.server import LocalServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class _Route:
    body: bytes = b""
    content_type: str = RSS
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    hang: bool = False
    # Sent in chunks without a Content-Length, `stream_chunks` times.
    stream_chunks: int = 0
    delay: float = 0.0


@dataclass
class FeedServer:
    """`serve(path, ...)` sets what a path answers; `requests` records what came in."""

    routes: dict[str, _Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    streamed_chunks: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: LocalServer | None = None

    def serve(
        self,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = RSS,
        status: int = 200,
        etag: str | None = None,
        last_modified: str | None = None,
        hang: bool = False,
        stream_chunks: int = 0,
        delay: float = 0.0,
    ) -> str:
        self.routes[path] = _Route(
            body, content_type, status, etag, last_modified, hang, stream_chunks, delay
        )
        return self.url(path)

    def url(self, path: str) -> str:
        assert self._server is not None
        return f"{self._server.url}/{path}"

    def requests_for(self, path: str) -> list[dict[str, str]]:
        return [headers for requested, headers in self.requests if requested == path]

    async def _answer(self, request: Request) -> Response:
        path = request.path_params["path"]
        self.requests.append((path, dict(request.headers)))
        route = self.routes.get(path)
        if route is None:
            return Response("not found", status_code=404)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if route.delay:
                await asyncio.sleep(route.delay)
            if route.hang:
                # Never answers on its own; released when the test ends.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), timeout=30)
                return Response(status_code=504)
        finally:
            self.in_flight -= 1
        if route.status != 200:
            return Response(f"status {route.status}", status_code=route.status)
        headers: dict[str, str] = {}
        if route.etag is not None:
            headers["ETag"] = route.etag
            if request.headers.get("if-none-match") == route.etag:
                return Response(status_code=304, headers=headers)
        if route.last_modified is not None:
            headers["Last-Modified"] = route.last_modified
            if request.headers.get("if-modified-since") == route.last_modified:
                return Response(status_code=304, headers=headers)
        if route.stream_chunks:
            return StreamingResponse(
                self._chunks(route), media_type=route.content_type, headers=headers
            )
        return Response(route.body, media_type=route.content_type, headers=headers)

    async def _chunks(self, route: _Route) -> AsyncIterator[bytes]:
        for _ in range(route.stream_chunks):
            self.streamed_chunks += 1
            yield route.body
            await asyncio.sleep(0)

    async def __aenter__(self) -> FeedServer:
        app = Starlette(routes=[Route("/{path:path}", self._answer, methods=["GET"])])
        self._server = LocalServer(app)
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._server is not None:
            await self._server.stop()
