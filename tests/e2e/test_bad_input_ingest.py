"""Every way stories come in, fed nasty strings: `tagwire push` (a JSON Lines file in a
subprocess), POST /api/articles (hypothesis bodies through the real HTTP server) and a feed
(through the poller, from a local web server). Each record is stored whole or rejected with its
reason, nothing breaks, and what was stored still renders as a valid Telegram message."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.context import TagwireApplication
from bot.emulator import parse_html
from bot.metrics import Metrics
from bot.texts.formatting import render_teaser
from bot.texts.plain import utf16_len
from storage.sqlite import SqliteStore
from tests.support.commands import run_tagwire
from tests.support.feed_server import FeedServer
from tests.support.feeds import add_feed, make_poller
from tests.support.harness import ROOT, api_client
from tests.support.nasty import NASTY_STRINGS
from tests.support.sql import query

API_TOKEN = "bad-input-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
FIELDS = ("url", "title", "teaser", "tags", "published_at", "source")


def valid(number: int) -> dict[str, Any]:
    return {
        "url": f"https://nasty.example.com/{number}",
        "title": f"Story {number}",
        "teaser": "A teaser.",
        "tags": ["Japan"],
    }


def nasty_records() -> list[Any]:
    """A valid record with one field replaced by each nasty string (tags: as a tag, and as
    the whole value), then values of the wrong JSON type, then things that are no record."""
    records: list[Any] = []
    number = 0
    for nasty in NASTY_STRINGS:
        for name in FIELDS:
            number += 1
            record = valid(number)
            record[name] = [nasty] if name == "tags" else nasty
            records.append(record)
    for odd in (None, 0, -1, 1e308, True, [], {}, [[]], {"a": 1}, ["Japan"] * 21, "x" * 100_000):
        for name in FIELDS:
            number += 1
            record = valid(number)
            record[name] = odd
            records.append(record)
    records += [None, 7, "a string", [], [valid(10_001)], {"nested": valid(10_002)}]
    return records


def stored_articles(database: Path | str) -> dict[str, tuple[str, str, int]]:
    rows = query(
        database,
        "SELECT a.url, a.title, a.teaser, COUNT(at.tag_id) FROM articles a "
        "LEFT JOIN article_tags at ON at.article_id = a.id GROUP BY a.id",
    )
    return {str(url): (str(title), str(teaser), int(tags)) for url, title, teaser, tags in rows}


def check_whole(articles: dict[str, tuple[str, str, int]]) -> None:
    """Nothing partial: every stored story has a title, 1-20 tags and an http(s) URL."""
    for url, (title, _, tags) in articles.items():
        assert url.startswith(("http://", "https://")), url
        assert 1 <= len(title) <= 300, url
        assert 1 <= tags <= 20, url


def test_push_of_nasty_records_reports_each_line_and_keeps_the_valid_ones(
    database: Path, tmp_path: Path
) -> None:
    records = nasty_records()
    lines = [json.dumps(record) for record in records]
    # Lines that are not JSON at all, or JSON JavaScript would accept and JSON does not.
    lines += ["{", "}", "[1,", "{'url': 'x'}", "NaN", '{"url": "https://a.example/1",}', "\x00"]
    lines.append(json.dumps(valid(99_999)))
    source = tmp_path / "nasty.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"TAGWIRE_DATABASE": str(database), "PATH": "/usr/bin:/bin"}
    result = run_tagwire("push", str(source), env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rejected_lines = set()
    for line in result.stderr.splitlines():
        position, field, reason = line.split(": ", 2)
        assert position.startswith("line "), line
        assert field, line
        assert reason.strip(), line
        rejected_lines.add(int(position.removeprefix("line ")))
    articles = stored_articles(database)
    check_whole(articles)
    summary = result.stdout.strip().splitlines()[-1]
    added = int(summary.split("added ")[1].split(",")[0])
    rejected = int(summary.split("rejected ")[1].split(";")[0])
    assert rejected == len(rejected_lines)
    assert added == len(articles)
    # Each line is accounted for exactly once: stored, a duplicate URL, or rejected.
    duplicates = int(summary.split("duplicates ")[1].split(",")[0])
    assert added + duplicates + rejected == len(lines)
    assert "https://nasty.example.com/99999" in articles
    # The store is not left busy or broken: a later push works.
    again = run_tagwire("push", "-", input=json.dumps(valid(100_000)), env=env, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert "added 1" in again.stdout


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {"ingest_token": API_TOKEN, "http_port": 0}


@pytest.fixture
async def api(
    bot: TagwireApplication,
) -> AsyncIterator[tuple[TagwireApplication, httpx.AsyncClient]]:
    async with api_client(bot, timeout=30) as client:
        yield bot, client


nasty_text = st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=400))
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
story_like = st.fixed_dictionaries(
    {},
    optional={
        "url": st.one_of(
            nasty_text, st.builds(lambda s: f"https://nasty.example.com/{s}", nasty_text)
        ),
        "title": nasty_text,
        "teaser": nasty_text,
        "tags": st.one_of(st.lists(nasty_text, max_size=25), json_value),
        "published_at": st.one_of(nasty_text, st.datetimes().map(str), json_value),
        "source": nasty_text,
    },
)
body_strategy = st.one_of(
    story_like.map(lambda record: json.dumps(record).encode()),
    st.lists(story_like, max_size=5).map(lambda records: json.dumps(records).encode()),
    json_value.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
    nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=body_strategy)
async def test_api_bodies_never_break_the_server(
    api: tuple[TagwireApplication, httpx.AsyncClient], body: bytes
) -> None:
    application, client = api
    answer = await client.post(
        "/api/articles", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code in (200, 201, 400), (answer.status_code, answer.text)
    document = answer.json()
    if answer.status_code == 400:
        assert document["error"]
        return
    results = document["results"]
    assert document["created"] + document["duplicates"] + document["rejected"] == len(results)
    for result in results:
        if result["status"] == "rejected":
            assert result["field"]
            assert result["reason"]
    store = application.bot_data.require().store
    created = [result["id"] for result in results if result["status"] == "created"]
    for article in (await store.get_articles(created)).values():
        text = render_teaser(article)
        assert utf16_len(text) <= 4096
        parse_html(text)
        assert article.tags


async def test_api_health_after_bad_bodies(
    api: tuple[TagwireApplication, httpx.AsyncClient],
) -> None:
    _, client = api
    for body in (b"\xff\xfe", b"[" * 100_000, b'{"url": "https://nasty.example.com/\\ud800"}'):
        answer = await client.post("/api/articles", content=body, headers=AUTH)
        assert answer.status_code in (200, 400), answer.text
    fine = await client.post("/api/articles", json=valid(1), headers=AUTH)
    assert fine.status_code == 201, fine.text
    assert (await client.get("/healthz")).status_code == 200


def _xml_safe(text: str) -> bool:
    return all(
        ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch > "\uffff"
        for ch in text
    )


def rss(items: list[dict[str, str]]) -> bytes:
    entries = []
    for item in items:
        categories = "".join(
            f"<category>{escape(category)}</category>" for category in item["categories"]
        )
        entries.append(
            f"<item><title>{escape(item['title'])}</title>"
            f"<link>{escape(item['link'])}</link>"
            f"<description>{escape(item['description'])}</description>"
            f"<guid isPermaLink={quoteattr('false')}>{escape(item['link'])}</guid>"
            f"{categories}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Nasty feed</title><link>https://nasty.example.com/</link>"
        "<description>x</description>" + "".join(entries) + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


async def test_a_feed_of_nasty_entries_keeps_the_valid_ones_and_they_render_safely(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    usable = [text for text in NASTY_STRINGS if _xml_safe(text)]
    items = []
    for number, nasty in enumerate(usable):
        base = f"https://nasty.example.com/feed/{number}"
        items += [
            {"title": nasty, "link": f"{base}/t", "description": "ok", "categories": ["Japan"]},
            {"title": "ok", "link": f"{base}/d", "description": nasty, "categories": ["Japan"]},
            {"title": "ok", "link": f"{base}/c", "description": "ok", "categories": [nasty]},
            {"title": "ok", "link": nasty, "description": "ok", "categories": ["Japan"]},
        ]
    broken = [text for text in NASTY_STRINGS if not _xml_safe(text)]
    assert broken, "the corpus has characters XML cannot carry"
    metrics = Metrics()
    async with (
        FeedServer() as server,
        make_poller(store, metrics, max_bytes=4 * 1024 * 1024) as poller,
    ):
        good = await add_feed(store, server.serve("nasty.xml", rss(items)))
        # A feed with a character XML cannot carry is not well-formed: nothing of it is
        # stored, the error is recorded, and the other feed is not held up.
        bad_items = [
            {
                "title": text,
                "link": "https://nasty.example.com/bad",
                "description": "x",
                "categories": ["Japan"],
            }
            for text in broken
        ]
        broken_url = server.serve("broken.xml", rss(bad_items))
        await add_feed(store, broken_url)
        with caplog.at_level(logging.WARNING):
            results = {result.url: result for result in await poller.poll_all()}
    assert results[good.url].outcome == "ok", results
    assert results[good.url].created + results[good.url].rejected == len(items)
    assert results[good.url].created > 0
    assert results[broken_url].outcome == "error"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    feeds = {feed.url: feed for feed in await store.list_feeds()}
    assert feeds[broken_url].last_error
    stored = await store.get_articles(list(range(1, len(items) + 10)))
    assert len(stored) == results[good.url].created
    for article in stored.values():
        assert article.tags
        text = render_teaser(article)
        assert utf16_len(text) <= 4096
        parse_html(text)
