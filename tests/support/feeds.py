"""Feed intake without the bot: feeds added to a store, and a poller reading them over real
HTTP (from tests.support.feed_server) into that store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from bot.intake.feeds import FeedFetcher, FeedPoller
from bot.intake.ingest import Ingestor
from bot.metrics import Metrics
from storage.base import Store
from storage.models import Feed

NOW = 1_800_000_000.0


@asynccontextmanager
async def make_poller(
    store: Store,
    metrics: Metrics,
    *,
    deadline: float = 2.0,
    max_bytes: int = 64 * 1024,
    concurrency: int = 4,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[FeedPoller]:
    """A poller over real HTTP, or over `transport` (an answer made up in the test)."""
    client = httpx.AsyncClient(
        timeout=deadline, follow_redirects=True, trust_env=False, transport=transport
    )
    fetcher = FeedFetcher(client, timeout=deadline, max_bytes=max_bytes)
    poller = FeedPoller(
        store,
        Ingestor(store),
        fetcher,
        concurrency=concurrency,
        metrics=metrics,
        client=client,
    )
    try:
        yield poller
    finally:
        await poller.close()


async def add_feed(store: Store, url: str, *tags: str) -> Feed:
    feed, _ = await store.add_feed(url, list(tags), NOW)
    return feed
