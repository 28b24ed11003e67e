"""A load balancer in front of several instances in webhook mode, as an operator's nginx would be:
each request goes to the next instance in turn, and one that refuses the connection (dead) is
passed over for the next, as `proxy_next_upstream error` does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import aiohttp
from aiohttp import web

# What a proxy must not forward as it came (RFC 9110 §7.6.1); the rest goes through as it is.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class RoundRobinBalancer:
    """Listens on a free local port; `url` is where Telegram (the emulator) posts."""

    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)
        # Requests each backend answered, by its base URL.
        self.answered: Counter[str] = Counter()
        self._turn = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> RoundRobinBalancer:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        for _ in range(len(self.backends)):
            backend = self.backends[self._turn % len(self.backends)]
            self._turn += 1
            try:
                async with self._session.request(
                    request.method, backend + request.path_qs, data=body, headers=headers
                ) as answer:
                    content = await answer.read()
                    self.answered[backend] += 1
                    return web.Response(
                        status=answer.status,
                        body=content,
                        content_type=answer.content_type,
                    )
            except aiohttp.ClientConnectorError:
                # Refused before the request went out: safe to try the next one.
                continue
            except aiohttp.ClientError:
                # The instance died with the update in hand: Telegram posts it again later.
                return web.Response(status=502, text="the instance went away")
        return web.Response(status=502, text="no instance answers")
