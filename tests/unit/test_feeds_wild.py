"""Feeds as they are found in the wild (issue 12, points 1–7): out-of-range dates, XML that
only the lenient parser reads, text that looks like HTML, undeclared encodings, items without a
title, script in descriptions, audio files beside the story's link. Each fixture under
tests/fixtures/feeds/wild/ is a small file in a shape real feeds have; each is polled through
the FeedPoller from a local web server, as the running bot polls it."""

from __future__ import annotations

import codecs
import logging
import time
from datetime import UTC, datetime

import httpx
import pytest

from bot.intake.feeds import (
    FeedError,
    FeedPoller,
    PollResult,
    decode_document,
    entry_record,
    parse_feed,
)
from bot.metrics import Metrics
from bot.texts.formatting import render_teaser
from bot.texts.plain import strip_html
from storage.base import Store
from storage.models import Article, Feed
from tests.support.feed_server import ATOM, FIXTURES, RSS, FeedServer
from tests.support.feeds import make_poller

WILD = FIXTURES / "wild"
NOW = 1_800_000_000.0


def wild(name: str) -> bytes:
    return (WILD / name).read_bytes()


async def add_feed(store: Store, url: str, *tags: str) -> Feed:
    feed, _ = await store.add_feed(url, list(tags), NOW)
    return feed


async def stories(store: Store, tag: str) -> dict[str, Article]:
    found = await store.find_tags([tag.casefold()])
    if tag.casefold() not in found:
        return {}
    articles = await store.latest_articles(found[tag.casefold()].id, 100)
    return {article.url: article for article in articles}


async def poll_one(poller: FeedPoller) -> PollResult:
    [result] = await poller.poll_all()
    return result


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# 1. Dates out of range, or too early to be a publication date.


async def test_entries_with_impossible_dates_are_stored_undated_beside_the_others(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(
        store, server.serve("dates.atom", wild("dates_out_of_range.atom"), content_type=ATOM)
    )
    before = datetime.now(UTC)
    result = await poll_one(poller)
    after = datetime.now(UTC)
    assert (result.outcome, result.created, result.rejected) == ("ok", 6, 0), result
    by_url = await stories(store, "Calendar")
    base = "https://calendar.example.com/"
    assert by_url[base + "ordinary"].published_at == datetime(2026, 11, 20, 8, tzinfo=UTC)
    # An impossible `published` leaves the entry's real `updated`.
    assert by_url[base + "updated-instead"].published_at == datetime(2026, 11, 19, 10, tzinfo=UTC)
    # Year 10000 (9999-12-31 at -09:59), year 0, year 99, 2099: no date, so the time it came in.
    for slug in ("year-10000", "year-0", "year-99", "year-2099"):
        assert before <= by_url[base + slug].published_at <= after, slug


async def test_rss_dates_at_a_databases_minimum_or_maximum_count_as_none(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("events.rss", wild("dates_out_of_range.rss")))
    before = datetime.now(UTC)
    result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 3), result
    by_url = await stories(store, "Events")
    base = "https://events.example.com/"
    assert by_url[base + "concert"].published_at == datetime(2026, 11, 19, 18, tzinfo=UTC)
    assert by_url[base + "minimum"].published_at >= before
    assert by_url[base + "maximum"].published_at >= before


@pytest.mark.parametrize(
    "moment",
    [
        (10000, 1, 1, 9, 58, 59, 5, 1, 0),
        (0, 12, 31, 23, 0, 0, 6, 366, 0),
        (99, 5, 1, 12, 0, 0, 4, 121, 0),
        (1969, 12, 31, 23, 59, 59, 2, 365, 0),
        (2099, 1, 1, 0, 0, 0, 3, 1, 0),
    ],
    ids=["year-10000", "year-0", "year-99", "before-1970", "year-2099"],
)
def test_an_entry_with_a_date_out_of_range_has_no_date(
    moment: tuple[int, ...],
) -> None:
    entry = {
        "link": "https://calendar.example.com/x",
        "title": "x",
        "published_parsed": time.struct_time(moment),
    }
    record = entry_record(entry, ["Calendar"], None)
    assert "published_at" not in record


def test_a_leap_second_and_1970_are_real_dates() -> None:
    leap = entry_record(
        {"published_parsed": time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))}, [], None
    )
    assert leap["published_at"] == "2017-01-01T00:00:00+00:00"
    epoch = entry_record(
        {"updated_parsed": time.struct_time((1970, 1, 1, 0, 0, 0, 3, 1, 0))}, [], None
    )
    assert epoch["published_at"] == "1970-01-01T00:00:00+00:00"


# 2. XML flaws the lenient parser reads past.


async def test_undefined_html_entities_are_read_and_the_flaw_logged_once(
    store: Store,
    server: FeedServer,
    poller: FeedPoller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_feed(store, server.serve("cafe.rss", wild("undefined_entities.rss")))
    with caplog.at_level(logging.DEBUG, logger="bot.intake.feeds"):
        first = await poll_one(poller)
        second = await poll_one(poller)
    assert (first.outcome, first.created, first.rejected) == ("ok", 2, 0), first
    assert (second.outcome, second.duplicates) == ("ok", 2), second
    by_url = await stories(store, "Paris")
    reopen = by_url["https://cafe.example.com/2026/11/cafes-reopen"]
    assert reopen.title == "Cafés reopen after the summer break"
    assert reopen.teaser == "Terraces are full again — and prices are up…"
    assert reopen.source == "Café Society"
    assert by_url["https://cafe.example.com/2026/11/barista"].title == "The résumé of a barista"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "undefined entity" in warnings[0]
    assert "cafe.rss" in warnings[0]


async def test_undeclared_namespace_prefixes_are_read(
    store: Store,
    server: FeedServer,
    poller: FeedPoller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_feed(store, server.serve("radio.rss", wild("undeclared_prefixes.rss")))
    with caplog.at_level(logging.WARNING, logger="bot.intake.feeds"):
        result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 2), result
    by_url = await stories(store, "Podcasts")
    assert sorted(by_url) == [
        "https://radio.example.com/episodes/41",
        "https://radio.example.com/episodes/42",
    ]
    assert by_url["https://radio.example.com/episodes/42"].teaser == (
        "Three keepers talk about the last manned lighthouses."
    )
    assert "unbound prefix" in caplog.text


async def test_a_recovered_feed_with_nothing_usable_is_refused(
    store: Store, server: FeedServer, poller: FeedPoller, metrics: Metrics
) -> None:
    await add_feed(store, server.serve("soon.rss", wild("undefined_entities_nothing_usable.rss")))
    result = await poll_one(poller)
    assert result.outcome == "error"
    assert result.error is not None
    assert "undefined entity" in result.error
    assert sample(metrics, "tagwire_feed_errors_total", reason="malformed") == 1


def test_a_feed_broken_beyond_recovery_is_still_refused() -> None:
    body = wild("undefined_entities.rss").replace(b"</channel>", b"")
    with pytest.raises(FeedError, match="mismatched tag") as caught:
        parse_feed(body, url="https://cafe.example.com/feed", content_type=RSS, feed_tags=[])
    assert caught.value.reason == "malformed"


# 3. Text constructs are text.


async def test_text_keeps_its_angle_brackets_and_only_html_loses_markup(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    url = server.serve("markup.atom", wild("text_constructs.atom"), content_type=ATOM)
    await add_feed(store, url)
    result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 4), result
    by_url = await stories(store, "Web")
    blink = by_url["https://markup.example.org/blink"]
    assert blink.title == "History of the <blink> tag"
    assert blink.teaser == "History of the <blink> tag"
    assert blink.source == "Example <b>Atom</b>"
    br = by_url["https://markup.example.org/br-and-p"]
    assert br.title == "Why <br/> & <p> differ"
    assert br.teaser == "Write <p> for a paragraph & <br/> for a line break."
    styled = by_url["https://markup.example.org/styled"]
    assert styled.title == "Styled headlines & more"
    assert styled.teaser == "An HTML summary."
    xhtml = by_url["https://markup.example.org/xhtml"]
    assert xhtml.title == "An XHTML title"
    assert xhtml.teaser == "An XHTML summary."
    # Escaped when sent.
    assert "History of the &lt;blink&gt; tag" in render_teaser(blink)


# 4. Encodings.

LEGACY = [
    ("koi8r.rss", "Москва", "Как пережить зиму в Москве", "Новости дня"),
    ("big5.rss", "台灣", "颱風逼近台灣", "台灣新聞"),
    ("shift_jis.rss", "東京", "東京で初雪を観測", "東京ニュース"),
    ("euc_kr.rss", "서울", "서울에 첫눈이 내렸습니다", "서울 뉴스"),
]


def served_exactly(body: bytes, headers: dict[str, str]) -> httpx.MockTransport:
    """A transport answering with these headers and no others (the local server would add a
    charset to a text/* type)."""

    def answer(request: httpx.Request) -> httpx.Response:
        response = httpx.Response(200, content=body, headers=headers)
        assert "charset" not in response.headers.get("content-type", "")
        return response

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(("name", "tag", "title", "source"), LEGACY, ids=[f[0] for f in LEGACY])
@pytest.mark.parametrize("content_type", [RSS, "text/xml", None])
async def test_feeds_in_legacy_encodings_declared_nowhere_are_detected(
    store: Store,
    metrics: Metrics,
    name: str,
    tag: str,
    title: str,
    source: str,
    content_type: str | None,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    await add_feed(store, f"https://legacy.example.com/{name}")
    transport = served_exactly(wild(name), headers)
    async with make_poller(store, metrics, transport=transport) as poller:
        result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 2), result
    titles = {story.title: story for story in (await stories(store, tag)).values()}
    assert title in titles, sorted(titles)
    assert titles[title].source == source


async def test_a_utf8_feed_served_without_content_type_stays_utf8(
    store: Store, metrics: Metrics
) -> None:
    await add_feed(store, "https://i18n.example.com/feed")
    transport = served_exactly(wild("utf8_undeclared.rss"), {})
    async with make_poller(store, metrics, transport=transport) as poller:
        result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 1), result
    [story] = (await stories(store, "Unicode")).values()
    # The reference (’, —) keeps feedparser from repairing the field as it repairs some.
    assert story.title == "Iñtërnâtiônàlizætiøn’s test string turns 20"
    assert story.teaser == "Ünïcödé everywhere — even “quotes” and emoji 🎉."
    assert story.source == "Iñtërnâtiônàlizætiøn Weekly"


async def test_the_documents_declaration_wins_over_a_servers_default_charset(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    body = wild("utf8_declared_served_as_latin1.rss")
    await add_feed(
        store, server.serve("zeitung.rss", body, content_type="text/xml; charset=ISO-8859-1")
    )
    result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 1), result
    [story] = (await stories(store, "Zürich")).values()
    assert story.title == "Grüezi: Zürich öffnet die Eisbahn – früher als geplant"
    assert story.source == "Zürich Zeitung"


XML_UTF8 = '<?xml version="1.0" encoding="utf-8"?><r>Zürich</r>'


@pytest.mark.parametrize(
    ("body", "content_type", "text", "encoding"),
    [
        # A byte order mark wins over the declaration and the header.
        (
            codecs.BOM_UTF8 + '<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode(),
            "text/xml; charset=koi8-r",
            "<r>é</r>",
            "utf-8",
        ),
        (
            codecs.BOM_UTF16_LE + '<?xml version="1.0"?><r>Я</r>'.encode("utf-16-le"),
            None,
            "<r>Я</r>",
            "utf-16-le",
        ),
        (
            codecs.BOM_UTF16_BE + '<?xml version="1.0"?><r>Я</r>'.encode("utf-16-be"),
            None,
            "<r>Я</r>",
            "utf-16-be",
        ),
        # Then the declaration, over the header.
        (
            '<?xml version="1.0" encoding="windows-1251"?><r>Я</r>'.encode("cp1251"),
            "application/rss+xml; charset=utf-8",
            "<r>Я</r>",
            "cp1251",
        ),
        # Then the header.
        (
            '<?xml version="1.0"?><r>Я</r>'.encode("koi8-r"),
            "text/xml; charset=KOI8-R",
            "<r>Я</r>",
            "koi8-r",
        ),
        # ISO-8859-1 is read as windows-1252, as browsers do: 0x93 0x94 are quotes.
        (b"<r>\x93quoted\x94</r>", "text/xml; charset=iso-8859-1", "<r>“quoted”</r>", "cp1252"),
        # A label that is no text encoding, or UTF-16 named in ASCII, is passed over.
        (XML_UTF8.replace("utf-8", "base64").encode(), None, "<r>Zürich</r>", "utf-8"),
        (XML_UTF8.replace("utf-8", "UTF-16").encode(), None, "<r>Zürich</r>", "utf-8"),
        (XML_UTF8.replace("utf-8", "no-such-encoding").encode(), None, "<r>Zürich</r>", "utf-8"),
        # Then detection: valid UTF-8 is UTF-8, whatever an absent header implies.
        ("<r>Iñtërnâtiônàlizætiøn</r>".encode(), None, "<r>Iñtërnâtiônàlizætiøn</r>", "utf-8"),
    ],
)
def test_encodings_are_decided_as_a_browser_decides(
    body: bytes, content_type: str | None, text: str, encoding: str
) -> None:
    decoded, used = decode_document(body, content_type)
    assert used == encoding
    assert decoded.endswith(text), decoded


def test_a_declared_encoding_that_does_not_fit_keeps_the_rest_readable() -> None:
    # Declared UTF-8 with one windows-1252 byte: the byte is replaced, the rest is still UTF-8.
    body = '<?xml version="1.0" encoding="utf-8"?><r>Zürich '.encode() + b"\x96 Genf</r>"
    decoded, used = decode_document(body, None)
    assert used == "utf-8"
    assert decoded.endswith("<r>Zürich \ufffd Genf</r>")


def test_feedparser_is_handed_the_decoded_document() -> None:
    # With no Content-Type feedparser would read this as ISO-8859-1 (and repair only the fields
    # it can); with text/xml and no charset, as US-ASCII.
    for content_type in (None, "text/xml"):
        parsed = parse_feed(
            wild("utf8_undeclared.rss"),
            url="https://i18n.example.com/feed",
            content_type=content_type,
            feed_tags=[],
        )
        assert parsed.title == "Iñtërnâtiônàlizætiøn Weekly"
        [record] = parsed.records
        assert isinstance(record.data, dict)
        assert record.data["title"] == "Iñtërnâtiônàlizætiøn’s test string turns 20"
        assert record.data["teaser"] == "Ünïcödé everywhere — even “quotes” and emoji 🎉."


# 5. Items without a title.


async def test_items_without_a_title_get_one_from_their_description(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("jane.rss", wild("mastodon.rss")), "Jane")
    result = await poll_one(poller)
    assert (result.outcome, result.created, result.rejected) == ("ok", 3, 0), result
    by_url = await stories(store, "Jane")
    base = "https://social.example/@jane/"
    shipped = by_url[base + "113456789012345678"]
    # The first sentence (the "." of "2.0" does not end it).
    assert shipped.title == "Just shipped version 2.0 of our bird-count app!"
    assert shipped.teaser.startswith("Just shipped version 2.0 of our bird-count app! It works")
    assert shipped.tags == ("Jane", "birds")
    # No sentence within 100 characters: cut at a word.
    thread = by_url[base + "113456789012345679"]
    assert thread.title == (
        "Thread about the night trains of Europe 🧵 the sleeper from Vienna to Paris runs again"
        " and I took it…"
    )
    assert len(thread.title) <= 100
    # Plain text: the mention's markup and the entity are gone; a sentence shorter than 20
    # characters does not end the title.
    fix = by_url[base + "113456789012345680"]
    assert fix.title == "@bob Oops. The count was 42 & not 24, sorry!"


def test_an_item_with_no_text_to_make_a_title_of_has_none() -> None:
    link = "https://x.example/1"
    for entry in (
        {"link": link},
        {"link": link, "summary": "<p>&nbsp;</p><img src='x.png'>"},
        # Without a link it is rejected anyway, for that.
        {"summary": "A description with no link."},
    ):
        assert "title" not in entry_record(entry, ["Japan"], None)


def test_a_plain_text_description_gives_its_title_as_written() -> None:
    entry = {
        "link": "https://x.example/1",
        "summary": "Why <blink> died. A short history.",
        "summary_detail": {"type": "text/plain"},
    }
    assert entry_record(entry, ["Web"], None)["title"] == "Why <blink> died. A short history."


# 6. Script and style contents.


async def test_script_and_style_contents_never_reach_the_teaser(
    store: Store, server: FeedServer, poller: FeedPoller
) -> None:
    await add_feed(store, server.serve("launch.rss", wild("script_style.rss")))
    result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 2), result
    by_url = await stories(store, "Space")
    assert by_url["https://launch.example.com/live"].teaser == (
        "The rocket lifts off at 09:00. Coverage starts an hour earlier."
    )
    assert by_url["https://launch.example.com/countdown"].teaser == "T minus one hour. Stay tuned."


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Intro</p><script />function executeMe() { /* <p>x</p> */ }</script><p>After</p>",
        "<p>Intro</p><script/>function executeMe() {}</script><p>After</p>",
        "<p>Intro</p><style/>p { color: red }</style><p>After</p>",
        "<p>Intro</p><script>if (a<b) { document.write('</p>') }</script><p>After</p>",
        "<p>Intro</p><SCRIPT type='text/javascript'>executeMe()</SCRIPT><p>After</p>",
        "<p>Intro</p><noscript>Enable JavaScript</noscript><template><p>x</p></template>"
        "<p>After</p>",
    ],
)
def test_strip_html_drops_script_and_style_contents(markup: str) -> None:
    text = strip_html(markup)
    assert " ".join(text.split()) == "Intro After"


def test_strip_html_keeps_self_closed_breaks() -> None:
    assert " ".join(strip_html("one<br/>two<br />three").split()) == "one two three"


# 7. The story's link over an enclosure.


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("podcast_links.rss", RSS, "https://harbour.example.com/episodes/foghorns"),
        ("podcast_links.atom", ATOM, "https://harbour.example.com/episodes/knots"),
    ],
)
async def test_the_alternate_link_is_the_story_not_the_enclosure(
    store: Store,
    server: FeedServer,
    poller: FeedPoller,
    name: str,
    content_type: str,
    expected: str,
) -> None:
    await add_feed(store, server.serve(name, wild(name), content_type=content_type))
    result = await poll_one(poller)
    assert (result.outcome, result.created) == ("ok", 1), result
    assert list(await stories(store, "Podcasts")) == [expected]


def test_an_entry_whose_only_link_is_an_enclosure_keeps_it() -> None:
    enclosure = {"rel": "enclosure", "href": "https://cdn.example.com/a.mp3", "type": "audio/mpeg"}
    entry = {"link": "https://cdn.example.com/a.mp3", "links": [enclosure], "title": "a"}
    assert entry_record(entry, [], None)["url"] == "https://cdn.example.com/a.mp3"


# Every wild fixture is read without a warning (pytest turns warnings into errors).


@pytest.mark.parametrize("name", sorted(path.name for path in WILD.iterdir()))
def test_every_wild_fixture_is_read_or_refused_without_warnings(name: str) -> None:
    if name == "undefined_entities_nothing_usable.rss":
        with pytest.raises(FeedError, match="undefined entity"):
            parse_feed(wild(name), url="https://wild.example.com/", content_type=None, feed_tags=[])
        return
    parsed = parse_feed(
        wild(name), url="https://wild.example.com/", content_type=None, feed_tags=["Wild"]
    )
    assert parsed.records
    for record in parsed.records:
        assert isinstance(record.data, dict)
        assert record.data.get("url"), record
        assert record.data.get("title"), record
