"""Feeds: fetching, parsing and ingesting RSS/Atom against a local web server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.intake.feeds import FeedPoller, display_url, entry_record
from bot.metrics import Metrics
from storage.models import Article, Feed
from storage.sqlite import SqliteStore
from tests.conftest import add_chat
from tests.support.feed_server import ATOM, FeedServer, fixture
from tests.support.feeds import add_feed, make_poller


async def feed_named(store: SqliteStore, url: str) -> Feed:
    return next(feed for feed in await store.list_feeds() if feed.url == url)


async def stories(store: SqliteStore, tag: str) -> dict[str, Article]:
    found = await store.find_tags([tag.casefold()])
    if tag.casefold() not in found:
        return {}
    articles = await store.latest_articles(found[tag.casefold()].id, 100)
    return {article.url: article for article in articles}


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_rss2_entries_become_stories_with_feed_and_entry_tags(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("asia.xml", fixture("rss2.xml")), "Asia")
    [result] = await poller.poll_all()
    assert result.outcome == "ok"
    assert result.created == 3
    by_url = await stories(store, "Asia")
    talks = by_url["https://news.example.com/asia/tokyo-moscow-talks"]
    assert talks.title == "Tokyo and Moscow resume talks"
    assert talks.teaser == "Negotiators met in Tokyo for the first time in a year."
    assert talks.tags == ("Asia", "Japan", "Russia")
    assert talks.source == "Asia Desk"
    # +0300 in the feed, stored in UTC.
    assert talks.published_at == datetime(2026, 11, 3, 6, 30, tzinfo=UTC)


async def test_atom_entries_resolve_links_strip_html_titles_and_use_labels(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    url = server.serve("science/atom.xml", fixture("atom.xml"), content_type=ATOM)
    await add_feed(store, url)
    [result] = await poller.poll_all()
    assert result.created == 2
    space = await stories(store, "Space")
    [hayabusa] = space.values()
    assert hayabusa.url == url.rsplit("/science/", 1)[0] + "/2026/11/hayabusa-samples"
    assert hayabusa.title == "Hayabusa samples reach the lab"
    assert hayabusa.tags == ("Space", "Japan")
    assert hayabusa.published_at == datetime(2026, 11, 5, 0, 0, tzinfo=UTC)
    oceans = await stories(store, "oceans")
    [vents] = oceans.values()
    # No summary: the content, without its <p>.
    assert vents.teaser == "Twelve species were found near the vents."
    assert vents.published_at == datetime(2026, 11, 4, 23, 30, tzinfo=UTC)


async def test_rss1_feed_is_read(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(
        store, server.serve("rdf", fixture("rss1.xml"), content_type="application/rdf+xml")
    )
    [result] = await poller.poll_all()
    assert result.created == 1
    [story] = (await stories(store, "Technology")).values()
    assert story.title == "Libraries keep RSS alive"


async def test_summaries_lose_their_html_and_entities_are_decoded(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("markup.xml", fixture("entities.xml")))
    await poller.poll_all()
    [qa] = (await stories(store, "Diplomacy")).values()
    assert qa.title == "Q&A: what “quiet” diplomacy means"
    assert qa.teaser == "Diplomats rarely talk — here’s why & how. Second paragraph."
    assert qa.url == "https://markup.example.com/qa-quiet-diplomacy?ref=rss&utm=feed"
    assert qa.source == "Markup & Co."
    [prices] = (await stories(store, "Economy")).values()
    # A plain-text title keeps its angle brackets; the CDATA summary loses its markup only.
    assert prices.title == "Prices < 5 > 3"
    assert prices.teaser == "One & two Three <four>"


async def test_first_poll_stores_the_backlog_without_notifying_then_new_entries_notify(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    await add_chat(store, 1001, "Japan")
    await add_feed(store, server.serve("asia.xml", fixture("rss2.xml")), "Asia")
    [first] = await poller.poll_all()
    assert (first.created, first.recipients) == (3, 0)
    assert (await store.stats()).deliveries_pending == 0
    assert (await feed_named(store, server.url("asia.xml"))).primed

    server.serve("asia.xml", fixture("rss2_next.xml"))
    [second] = await poller.poll_all()
    assert (second.created, second.duplicates, second.recipients) == (1, 3, 1)
    figures = await store.outbox_figures()
    assert figures.pending == 1


async def test_same_story_in_two_feeds_and_on_the_next_poll_is_stored_once(
    store: SqliteStore, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("one.xml", fixture("rss2.xml")), "One")
    await add_feed(store, server.serve("two.xml", fixture("rss2.xml")), "Two")
    results = await poller.poll_all()
    assert sorted(r.created for r in results) == [0, 3]
    assert sorted(r.duplicates for r in results) == [0, 3]
    again = await poller.poll_all()
    assert [r.created for r in again] == [0, 0]
    assert (await store.stats()).stories == 3


async def test_malformed_feed_is_recorded_and_does_not_stop_the_others(
    store: SqliteStore, server: FeedServer, poller: FeedPoller, metrics: Metrics
) -> None:
    broken = server.serve("broken.xml", fixture("malformed.xml"))
    await add_feed(store, broken, "Broken")
    await add_feed(store, server.serve("asia.xml", fixture("rss2.xml")), "Asia")
    results = {r.url: r for r in await poller.poll_all()}
    assert results[broken].outcome == "error"
    assert "malformed feed" in (results[broken].error or "")
    assert results[server.url("asia.xml")].created == 3
    feed = await feed_named(store, broken)
    assert feed.last_error is not None
    assert "mismatched tag" in feed.last_error
    assert feed.failures == 1
    assert not feed.primed
    assert await stories(store, "Broken") == {}
    assert sample(metrics, "tagwire_feed_errors_total", reason="malformed") == 1
    assert sample(metrics, "tagwire_feed_polls_total", outcome="ok") == 1


async def test_a_web_page_is_not_a_feed(
    store: SqliteStore, server: FeedServer, poller: FeedPoller, metrics: Metrics
) -> None:
    page = server.serve("home", fixture("not_a_feed.html"), content_type="text/html")
    await add_feed(store, page)
    [result] = await poller.poll_all()
    assert result.error is not None
    assert result.error.startswith("not an RSS or Atom feed")
    assert sample(metrics, "tagwire_feed_errors_total", reason="not_a_feed") == 1


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_an_error_status_is_recorded_and_the_next_poll_tries_again(
    store: SqliteStore, server: FeedServer, poller: FeedPoller, metrics: Metrics, status: int
) -> None:
    url = server.serve("flaky.xml", status=status)
    await add_feed(store, url, "Asia")
    [failed] = await poller.poll_all()
    assert failed.error is not None
    assert failed.error.startswith(f"HTTP {status}")
    assert (await feed_named(store, url)).failures == 1
    [failed_again] = await poller.poll_all()
    assert failed_again.outcome == "error"
    assert (await feed_named(store, url)).failures == 2

    server.serve("flaky.xml", fixture("rss2.xml"))
    [recovered] = await poller.poll_all()
    assert recovered.created == 3
    feed = await feed_named(store, url)
    assert feed.last_error is None
    assert feed.failures == 0
    assert feed.last_success_at is not None
    assert sample(metrics, "tagwire_feed_errors_total", reason="http") == 2


async def test_etag_and_last_modified_make_the_next_poll_conditional(
    store: SqliteStore, server: FeedServer, poller: FeedPoller, metrics: Metrics
) -> None:
    url = server.serve(
        "asia.xml",
        fixture("rss2.xml"),
        etag='"v1"',
        last_modified="Tue, 03 Nov 2026 10:00:00 GMT",
    )
    await add_feed(store, url)
    [first] = await poller.poll_all()
    assert first.outcome == "ok"
    feed = await feed_named(store, url)
    assert (feed.etag, feed.last_modified) == ('"v1"', "Tue, 03 Nov 2026 10:00:00 GMT")

    [second] = await poller.poll_all()
    assert second.outcome == "not_modified"
    assert second.created == 0
    headers = server.requests_for("asia.xml")[-1]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 03 Nov 2026 10:00:00 GMT"
    feed = await feed_named(store, url)
    assert feed.last_error is None
    assert sample(metrics, "tagwire_feed_polls_total", outcome="not_modified") == 1

    server.serve("asia.xml", fixture("rss2_next.xml"), etag='"v2"')
    [third] = await poller.poll_all()
    assert third.created == 1
    assert (await feed_named(store, url)).etag == '"v2"'


async def test_a_feed_that_never_answers_times_out_without_holding_up_the_others(
    store: SqliteStore, server: FeedServer, metrics: Metrics
) -> None:
    slow = server.serve("slow.xml", hang=True)
    await add_feed(store, slow)
    await add_feed(store, server.serve("asia.xml", fixture("rss2.xml")), "Asia")
    async with make_poller(store, metrics, deadline=0.3) as poller:
        started = time.monotonic()
        results = {r.url: r for r in await poller.poll_all()}
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert results[slow].error == "no complete answer within 0.3 s"
    assert results[server.url("asia.xml")].created == 3
    assert sample(metrics, "tagwire_feed_errors_total", reason="timeout") == 1


async def test_a_feed_over_the_size_cap_is_refused(
    store: SqliteStore, server: FeedServer, metrics: Metrics
) -> None:
    url = server.serve("big.xml", fixture("big.xml"))
    await add_feed(store, url)
    async with make_poller(store, metrics, max_bytes=4096) as poller:
        [result] = await poller.poll_all()
    assert result.error == "larger than 4096 bytes"
    assert (await store.stats()).stories == 0
    assert sample(metrics, "tagwire_feed_errors_total", reason="too_large") == 1


async def test_a_streamed_feed_is_cut_off_at_the_cap_without_reading_the_rest(
    store: SqliteStore, server: FeedServer, metrics: Metrics
) -> None:
    # No Content-Length to go by: 1000 chunks of 1 KiB, read only until the cap is passed.
    url = server.serve("endless.xml", b"x" * 1024, stream_chunks=1000)
    await add_feed(store, url)
    async with make_poller(store, metrics, max_bytes=8192) as poller:
        [result] = await poller.poll_all()
    assert result.error == "larger than 8192 bytes"
    assert server.streamed_chunks < 1000


async def test_an_unreachable_feed_is_a_network_error(
    store: SqliteStore, poller: FeedPoller, metrics: Metrics
) -> None:
    # Port 9 (discard) has no listener here.
    await add_feed(store, "http://127.0.0.1:9/feed.xml")
    [result] = await poller.poll_all()
    assert result.error is not None
    assert result.error.startswith("cannot fetch")
    assert sample(metrics, "tagwire_feed_errors_total", reason="network") == 1


async def test_entries_that_fail_validation_are_skipped_and_counted(
    store: SqliteStore,
    server: FeedServer,
    poller: FeedPoller,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The feed has no tags of its own, so the entry without categories has none.
    await add_feed(store, server.serve("asia.xml", fixture("rss2.xml")))
    with caplog.at_level("WARNING", logger="bot.intake.feeds"):
        [result] = await poller.poll_all()
    assert (result.created, result.rejected) == (2, 1)
    assert "entry 3 https://news.example.com/asia/typhoon-season skipped: tags" in caplog.text
    assert sample(metrics, "tagwire_stories_ingested_total", source="feed", result="rejected") == 1
    assert sample(metrics, "tagwire_stories_ingested_total", source="feed", result="created") == 2

    caplog.clear()
    with caplog.at_level("WARNING", logger="bot.intake.feeds"):
        await poller.poll_all()
    # Counted again, logged once.
    assert "skipped" not in caplog.text
    assert sample(metrics, "tagwire_stories_ingested_total", source="feed", result="rejected") == 2


async def test_feeds_are_polled_concurrently_but_bounded(
    store: SqliteStore, server: FeedServer, metrics: Metrics
) -> None:
    for number in range(6):
        url = server.serve(f"f{number}.xml", fixture("rss2.xml"), delay=0.1)
        await add_feed(store, url, f"Feed{number}")
    async with make_poller(store, metrics, concurrency=2) as poller:
        results = await poller.poll_all()
    assert [r.outcome for r in results] == ["ok"] * 6
    # Two at once (concurrent), never three (bounded).
    assert server.max_in_flight == 2


def test_entry_without_link_or_title_is_left_for_validation_to_reject() -> None:
    record = entry_record(
        {"summary": "text", "tags": [{"term": "!!!"}, {"term": "Japan"}]}, [], None
    )
    assert "url" not in record
    assert "title" not in record
    # A category that cannot be a tag is dropped, not the story.
    assert record["tags"] == ["Japan"]


def test_display_url_hides_credentials() -> None:
    assert display_url("https://user:secret@feeds.example.com/a.xml") == (
        "https://feeds.example.com/a.xml"
    )
    assert display_url("https://feeds.example.com/a.xml") == "https://feeds.example.com/a.xml"
