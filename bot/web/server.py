"""An ASGI app served by uvicorn inside the running event loop: the bot's HTTP API, the Bot
API emulator, the sandbox page and the tests' feed server all use it.

Every connection is held to `ConnectionLimits`: a request head must arrive whole within a
few seconds and a body must keep coming, or the connection is closed; past a cap on open
connections the one that has waited longest for a request head makes room. Running out of
file descriptors anyway is logged once a minute, not at every failed accept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import resource
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, cast

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


def _open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def _default_max_connections() -> int:
    # Half the process's file descriptors, so that the bot's own (the database, Telegram,
    # feeds) and a burst of new connections always find one free.
    return max(8, min(4096, _open_file_limit() // 2))


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one client connection may hold of the server."""

    # Seconds a request head (request line and headers) has to arrive whole, counted from the
    # connection's start or the previous answer's end; sending nothing at all counts too.
    head_timeout: float = 10.0
    # Seconds a request body may pause between two pieces.
    body_timeout: float = 10.0
    # Seconds an idle connection is kept between two requests.
    keep_alive: int = 5
    # Open connections at most; past it the one waiting longest for a request head is closed.
    # None: half the process's file limit when the server starts (at most 4096).
    max_connections: int | None = None
    # Largest request head, in bytes (400 beyond).
    max_head_bytes: int = 16 * 1024


# What LocalServer uses when given no limits; tests shorten it.
DEFAULT_LIMITS = ConnectionLimits()


def _resolved(limits: ConnectionLimits) -> ConnectionLimits:
    if limits.max_connections is not None:
        return limits
    return replace(limits, max_connections=_default_max_connections())


# Waiting for the request head, for more of its body, or neither (the application has it).
_HEAD, _BODY, _APP = "head", "body", "app"


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, held to ConnectionLimits (uvicorn itself never times out a
    connection that has not sent a whole request)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    _phase: str = _APP
    _phase_started: float = 0.0
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(received=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _watch(self, *, received: bool = False) -> None:
        """Start, restart or stop the read timer after whatever just happened."""
        if self.transport.is_closing():
            self._stop_timer()
            return
        state = self.conn.their_state
        phase = _HEAD if state is h11.IDLE else _BODY if state is h11.SEND_BODY else _APP
        if phase != self._phase:
            self._phase, self._phase_started = phase, self.loop.time()
            self._stop_timer()
            if phase == _HEAD:
                # The whole head within the limit, however slowly its bytes trickle in.
                self._start_timer(self.limits.head_timeout)
            elif phase == _BODY:
                self._start_timer(self.limits.body_timeout)
        elif phase == _BODY and received:
            self._start_timer(self.limits.body_timeout)

    def _start_timer(self, seconds: float) -> None:
        self._stop_timer()
        self._read_timer = self.loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._phase == _BODY and self.flow.read_paused:
            # The application has not read what came: the client is not the one waiting.
            self._start_timer(self.limits.body_timeout)
            return
        self._close()

    def _close(self) -> None:
        if self.conn.our_state not in {h11.ERROR, h11.MUST_CLOSE, h11.CLOSED}:
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def _make_room(self) -> None:
        """Past the cap, close the connection that has waited longest for a request head
        (this new one when no other is waiting)."""
        connections = self.server_state.connections
        cap = self.limits.max_connections
        if cap is None or len(connections) <= cap:
            return
        waiting = [
            connection
            for connection in connections
            if isinstance(connection, _GuardedH11Protocol)
            and connection._phase == _HEAD
            and not connection.transport.is_closing()
        ]
        oldest = min(waiting, key=lambda connection: connection._phase_started, default=self)
        oldest._close()


def guarded_protocol(base: type[H11Protocol] | None, limits: ConnectionLimits) -> type[H11Protocol]:
    """`base` (uvicorn's h11 protocol by default, or a subclass of it) held to `limits`."""
    bases: tuple[type[H11Protocol], ...] = (_GuardedH11Protocol,)
    if base is not None and base is not H11Protocol:
        bases += (base,)
    return cast(type[H11Protocol], type("GuardedH11Protocol", bases, {"limits": limits}))


_ACCEPT_ERROR = "socket.accept() out of system resource"
# Running out of file descriptors is said at most this often.
ACCEPT_ERROR_INTERVAL = 60.0


class _QuietAcceptErrors:
    """The event loop's exception handler, except that asyncio's "out of system resource"
    on accept, which it reports for each of up to `backlog` attempts and again every second,
    becomes one line a minute."""

    def __init__(self, previous: Any) -> None:
        self._previous = previous
        self._said_at = -math.inf
        self._unsaid = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != _ACCEPT_ERROR:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = loop.time()
        if now - self._said_at < ACCEPT_ERROR_INTERVAL:
            self._unsaid += 1
            return
        since = f"; {self._unsaid} more times since it was last said" if self._unsaid else ""
        self._said_at, self._unsaid = now, 0
        logger.error(
            "cannot accept connections: %s (open connections use up the file descriptors); "
            "retrying every second, said once a minute%s",
            context.get("exception"),
            since,
        )


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    handler = loop.get_exception_handler()
    if not isinstance(handler, _QuietAcceptErrors):
        loop.set_exception_handler(_QuietAcceptErrors(handler))


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
        http_protocol: type[H11Protocol] | None = None,
        grace: float = 2.0,
        limits: ConnectionLimits | None = None,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self._app = app
        self._http_protocol = http_protocol
        # Seconds open requests get to finish when the server stops.
        self._grace = grace
        # None: DEFAULT_LIMITS as it is when the server starts.
        self._limits = limits
        # Clients whose X-Forwarded-For (and -Proto) is believed: addresses or networks.
        self._trusted_proxies = tuple(trusted_proxies)
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
        limits = _resolved(self._limits if self._limits is not None else DEFAULT_LIMITS)
        assert limits.max_connections is not None
        config = uvicorn.Config(
            self._app,
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http=guarded_protocol(self._http_protocol, limits),
            server_header=False,
            timeout_graceful_shutdown=max(1, round(self._grace)),
            timeout_keep_alive=limits.keep_alive,
            h11_max_incomplete_event_size=limits.max_head_bytes,
            # Requests in progress at most (503 beyond); connections are capped by the protocol.
            limit_concurrency=limits.max_connections + 1,
            # Also how many connections asyncio accepts in one go, before any is turned away:
            # kept small beside the file limit.
            backlog=max(8, min(2048, _open_file_limit() // 16)),
            # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, which
            # would let any local client (or a proxy passing the header on) pick its address.
            proxy_headers=bool(self._trusted_proxies),
            forwarded_allow_ips=list(self._trusted_proxies),
        )
        _quiet_accept_errors(asyncio.get_running_loop())
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
