"""uvicorn inside the bot's own event loop, started and stopped by `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

# Seconds open requests get to finish when the bot stops.
GRACE = 5.0


class _Server(uvicorn.Server):
    # uvicorn replaces SIGINT/SIGTERM handlers while it serves; `tagwire run` has its own,
    # which stop the whole bot in order, so uvicorn must leave them alone.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves an ASGI app on host:port as a task of the running loop."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, host: str, port: int) -> None:
        """Listen, or raise OSError (port in use, address not available) for the caller to
        report; uvicorn would call sys.exit() inside its task instead."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            server_header=False,
            timeout_graceful_shutdown=int(GRACE),
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="tagwire-http")
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError("the HTTP server stopped before it started serving")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        self._server, self._task = server, task

    async def stop(self) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self._server = self._task = None
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), GRACE + 1)
        except TimeoutError:
            server.force_exit = True
            await task
