"""Fixtures the unit tests share: the feed tests' local web server, metrics and poller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.intake.feeds import FeedPoller
from bot.metrics import Metrics
from storage.sqlite import SqliteStore
from tests.support.feed_server import FeedServer
from tests.support.feeds import make_poller


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as feeds:
        yield feeds


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def poller(store: SqliteStore, metrics: Metrics) -> AsyncIterator[FeedPoller]:
    async with make_poller(store, metrics) as feed_poller:
        yield feed_poller
