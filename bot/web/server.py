"""An ASGI app served by uvicorn inside the running event loop: the bot's HTTP API, the Bot
API emulator, the sandbox page and the tests' feed server all use it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class Signal:
    """Wakes every coroutine waiting on it; usable from synchronous code in the loop's thread.

    asyncio.Event binds to the loop it first waits in, and one emulator may outlive a loop
    (pytest gives each test its own), so waiters create their futures on demand instead.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, seconds: float | None) -> None:
        """Returns on notify() or after `seconds` (never, when None)."""
        if seconds is not None and seconds <= 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn.Server adapted to live inside someone else's event loop and to stop at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_signal = Signal()

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit_signal.notify()

    # uvicorn replaces the process's SIGINT/SIGTERM handlers while serving; a server embedded in
    # the bot, a test run or the sandbox must leave them to its host.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    # uvicorn polls should_exit every 0.1 s and sleeps fixed 0.1 s steps while shutting down;
    # tests start and stop a server per test, so both wait on events and short polls instead.
    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await self._exit_signal.wait(0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown
        deadline = loop.time() + (grace if grace is not None else 5.0)
        while True:
            busy = self.server_state.connections or self.server_state.tasks
            if not busy or self.force_exit or loop.time() >= deadline:
                break
            # uvicorn offers no event for "last connection closed".
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:
            task.cancel()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class LocalServer:
    """Serves an ASGI app with uvicorn as a task of the running event loop."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        http_protocol: type[asyncio.Protocol] | None = None,
        grace: float = 2.0,
    ) -> None:
        self._app = app
        self._http_protocol = http_protocol
        # Seconds open requests get to finish when the server stops.
        self._grace = grace
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def running(self) -> bool:
        return self._task is not None

    @property
    def url(self) -> str:
        if self._task is None:
            raise RuntimeError("the server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._task is not None:
            raise RuntimeError("the server is already running")
        # Binding here rather than inside uvicorn makes a busy port an OSError for the caller;
        # uvicorn itself would call sys.exit() inside the serving task.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without it every
        # answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        config = uvicorn.Config(
            self._app,
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http=self._http_protocol or "h11",
            server_header=False,
            timeout_graceful_shutdown=max(1, round(self._grace)),
        )
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.005)
        sockets = server.servers[0].sockets
        bound = sockets[0].getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        self._server, self._task = server, task

    async def stop(self) -> None:
        """Stops serving; open connections are cut once the grace period is over."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self._server = self._task = None
        server.request_exit()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._grace + 1)
        except TimeoutError:
            server.force_exit = True
            await task
