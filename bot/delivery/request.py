"""python-telegram-bot's requests over aiohttp.

python-telegram-bot's own HTTPXRequest spends about ten times the CPU per message of a bare
aiohttp client (docs/performance.md has the measurements); at paid-broadcast rates that, not
Telegram, becomes the ceiling. This BaseRequest only moves bytes: python-telegram-bot still
turns the status and JSON body into RetryAfter, Forbidden, ChatMigrated, BadRequest and the rest
(BaseRequest._request_wrapper), so the bot sees exactly the errors it saw before.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A connection pool of `connection_pool_size` keep-alive connections; the timeouts mean
    what they mean for HTTPXRequest. aiohttp has no separate write timeout, so the write
    timeout joins the others in a bound on the whole exchange: nothing waits forever."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_timeouts",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    @property
    def closed(self) -> bool:
        """No HTTP session is open: before initialize() and after shutdown()."""
        return self._session is None or self._session.closed

    async def initialize(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
        # trust_env would look up proxies and .netrc in a thread for every request: twice
        # the CPU of the request itself. The proxy is looked up once per host instead.
        self._session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.USER_AGENT}
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, files=files
        )
        data: bytes | aiohttp.FormData | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                data = _form(request_data)
            else:
                # A JSON body (Telegram takes one for every method without files) costs one
                # json.dumps; httpx's form encoding dumps each value and then url-encodes.
                data = json.dumps(request_data.parameters).encode()
                headers = {"Content-Type": "application/json"}
        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            # Before aiohttp.ClientError: its timeouts are both.
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy(self, url: str) -> str | None:
        """HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment, as httpx reads them."""
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        try:
            return self._proxies[origin]
        except KeyError:
            pass
        parts = urlsplit(origin)
        bypass = parts.hostname is not None and urllib.request.proxy_bypass(parts.hostname)
        proxy = None if bypass else urllib.request.getproxies().get(parts.scheme)
        self._proxies[origin] = proxy
        return proxy

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        *,
        files: bool,
    ) -> aiohttp.ClientTimeout:
        read_s = self._read_timeout if isinstance(read, DefaultValue) else read
        default_write = self._media_write_timeout if files else self._write_timeout
        write_s = default_write if isinstance(write, DefaultValue) else write
        connect_s = self._connect_timeout if isinstance(connect, DefaultValue) else connect
        pool_s = self._pool_timeout if isinstance(pool, DefaultValue) else pool
        key = (read_s, write_s, connect_s, pool_s)
        timeout = self._timeouts.get(key)
        if timeout is None:
            total = None if None in key else sum(part for part in key if part)
            # aiohttp's `connect` covers waiting for a pooled connection and opening a new one.
            acquire = None if connect_s is None or pool_s is None else connect_s + pool_s
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=total, connect=acquire, sock_connect=connect_s, sock_read=read_s
            )
        return timeout


def _form(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
