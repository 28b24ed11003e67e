"""Pictures in teasers: the caption within Telegram's 1024 UTF-16 units (property tests), a
picture's URL checked like a story's, feeds' media fields, and in the delivery engine the form
each chat chose, a refused picture going out as text once, and message ids kept."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.delivery.engine import DeliveryEngine
from bot.delivery.sender import PtbSender
from bot.emulator import MAX_CAPTION_LENGTH, BotApiEmulator, parse_html, utf16_length
from bot.emulator.entities import normalize_url
from bot.errors import InvalidArticle
from bot.intake.feeds import entry_record
from bot.intake.validation import MAX_TEASER_LENGTH, MAX_TITLE_LENGTH, validate_article
from bot.tags import MAX_TAG_LENGTH, hashtag
from bot.texts.formatting import CAPTION_LIMIT, render_caption, render_teaser
from bot.texts.plain import clean_text
from handlers.admin import parse_post
from handlers.chat_file import FileProblem, export_file, read_setup
from storage.base import Store
from storage.models import Article, ChatSettings, DeliveryMode, PictureMode
from tests.conftest import add_chat, make_article
from tests.storage.direct import read_row
from tests.support.engine import FakeSender, fast_config, run_until_settled
from tests.support.feed_server import fixture
from tests.support.harness import TOKEN

CONFIG = fast_config(private_interval=0.02, group_interval=0.05)
READER = 5001
PICTURE = "https://img.example.com/1.jpg"
FILE_ID = "AgACAgIAAxkBAAIBW2Zx9k3Q-0_ab12cdEFghIJklmNOpqrs"
CYRILLIC = "Жители Курильских островов 🏝 обсуждают новые переговоры о мирном договоре"


def story(title: str, teaser: str, url: str, tags: tuple[str, ...]) -> Article:
    return Article(
        id=1,
        url=url,
        title=title,
        teaser=teaser,
        source=None,
        published_at=datetime(2026, 11, 29, tzinfo=UTC),
        tags=tags,
        image=PICTURE,
    )


def check_caption(caption: str, article: Article, read_more: str = "Read more") -> str:
    """The caption's text as Telegram parses it; fails unless it is valid HTML within 1024
    UTF-16 units that keeps the story's link and every hashtag."""
    text, entities = parse_html(caption)
    assert utf16_length(text) <= MAX_CAPTION_LENGTH
    # As Telegram keeps a link: normalized (an empty fragment dropped, the host lower case).
    assert [e["url"] for e in entities if e["type"] == "text_link"] == [normalize_url(article.url)]
    tags = [tag for tag in (hashtag(name) for name in article.tags) if tag is not None]
    assert text.endswith(read_more + ("\n" + " ".join(dict.fromkeys(tags)) if tags else ""))
    return text


# What validation lets through: clean one-line titles and teasers (bot/intake/validation.py).
titles = st.text(min_size=1, max_size=MAX_TITLE_LENGTH).map(clean_text).filter(bool)
teasers = st.text(max_size=MAX_TEASER_LENGTH).map(clean_text) | st.just(CYRILLIC * 20)
urls = st.builds(
    lambda path: "https://news.example.com/" + path,
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=2000),
)
tag_names = st.lists(
    st.text(min_size=1, max_size=MAX_TAG_LENGTH).filter(lambda name: hashtag(name) is not None)
    | st.sampled_from(["Japan", "Kuril Islands", "Россия", "🏝 Islands"]),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(titles, teasers, urls, tag_names, st.sampled_from(["Read more", "Читать дальше"]))
def test_any_caption_is_valid_html_within_1024_keeping_the_link_and_the_tags(
    title: str, teaser: str, url: str, tags: list[str], read_more: str
) -> None:
    article = story(title, teaser, url, tuple(tags))
    caption = render_caption(article, read_more=read_more)
    hashtags = " ".join(dict.fromkeys(t for t in (hashtag(n) for n in tags) if t is not None))
    if caption is None:
        # Only when the link and the tags alone leave no room for the title.
        assert utf16_length(read_more + "\n" + hashtags) + 3 > CAPTION_LIMIT
        return
    heading = check_caption(caption, article, read_more).split("\n\n")[0]
    assert title.startswith(heading) or heading.endswith("…")


def test_a_long_cyrillic_teaser_with_emoji_is_cut_at_a_word_and_the_rest_kept() -> None:
    tags = tuple(f"Курильские острова {n} новости" for n in range(20))
    long_teaser = " ".join([CYRILLIC] * 10)
    title = ("Мирный договор 🕊 " * 17).strip()
    article = story(title, long_teaser, "https://x.example/a?b=1&c=2", tags)
    caption = render_caption(article)
    assert caption is not None
    text = check_caption(caption, article)
    # The teaser gave way (cut at a word, with an ellipsis); the title stayed whole.
    heading, teaser, _ = text.split("\n\n")
    assert heading == title
    assert teaser.endswith("…")
    assert long_teaser.startswith(teaser[:-1])
    assert long_teaser[len(teaser) - 1] == " "
    assert utf16_length(text) > CAPTION_LIMIT - 60
    # As text, the same story keeps its teaser of up to 300 characters.
    assert len(parse_html(render_teaser(article))[0]) > len(text)


@pytest.mark.parametrize("tag_count", [14, 15, 16, 17])
def test_a_caption_fills_its_1024_units_to_the_last_short_word(tag_count: int) -> None:
    tags = tuple(f"{'t' * 30}{n:02d}" for n in range(tag_count))
    article = story("T" * MAX_TITLE_LENGTH, "ab " * 200, "https://x.example/", tags)
    caption = render_caption(article)
    assert caption is not None
    # Words of two letters: the cut ends within three units of the limit, never past it.
    assert CAPTION_LIMIT - 3 <= utf16_length(check_caption(caption, article)) <= CAPTION_LIMIT


def test_a_short_teaser_makes_the_same_caption_as_the_text() -> None:
    article = story("Japan wants peace", "Tokyo hopes…", "https://x.example/", ("Japan",))
    assert render_caption(article) == render_teaser(article)


def test_twenty_long_tags_leave_no_room_for_a_caption() -> None:
    tags = tuple(f"{'x' * 60}{n:04d}" for n in range(20))
    assert render_caption(story("Title", "", "https://x.example/", tags)) is None


def test_the_choice_of_pictures_goes_through_export_and_import() -> None:
    settings = ChatSettings(pictures=PictureMode.PREVIEW, link_previews=False)
    exported = export_file([], (), settings)
    assert json.loads(exported)["settings"]["pictures"] == "preview"
    assert read_setup(exported, forum=False, max_tags=100).settings == settings
    # A file written before pictures could be chosen keeps the default.
    older = json.dumps({"tagwire": 1, "settings": {"link_previews": False}}).encode()
    assert read_setup(older, forum=False, max_tags=100).settings.pictures is PictureMode.PHOTO
    bad = json.dumps({"tagwire": 1, "settings": {"pictures": "poster"}}).encode()
    with pytest.raises(FileProblem) as problem:
        read_setup(bad, forum=False, max_tags=100)
    assert (problem.value.key, problem.value.where) == ("import_bad_value", "settings.pictures")


def record(**fields: Any) -> dict[str, Any]:
    return {"url": "https://news.example.com/a", "title": "A", "tags": ["Japan"], **fields}


def test_a_picture_is_checked_like_a_link() -> None:
    assert validate_article(record(image=f" {PICTURE} ")).image == PICTURE
    assert validate_article(record(image="")).image is None
    assert validate_article(record(image=None)).image is None
    for bad, reason in (
        ("ftp://img.example.com/1.jpg", "must start with http:// or https://"),
        ("https:///1.jpg", "has no host"),
        ("https://img.example.com/a b.jpg", "contains spaces or control characters"),
        ("https://img.example.com/" + "a" * 1100, "is longer than 1024 characters"),
        (42, "must be a string"),
    ):
        with pytest.raises(InvalidArticle) as refused:
            validate_article(record(image=bad))
        assert (refused.value.field, refused.value.reason) == ("image", reason)


def test_post_takes_a_picture_url_right_after_the_storys() -> None:
    one_line = parse_post(f"https://news.example.com/a {PICTURE} Title here #Japan")
    assert one_line == {
        "url": "https://news.example.com/a",
        "title": "Title here",
        "tags": ["Japan"],
        "image": PICTURE,
    }
    lines = parse_post(f"https://news.example.com/a\n{PICTURE}\nTitle\nTeaser.\nJapan, Russia")
    assert lines["image"] == PICTURE
    assert (lines["title"], lines["teaser"]) == ("Title", "Teaser.")
    assert "image" not in parse_post("https://news.example.com/a Title #Japan")


def entries(name: str) -> list[dict[str, Any]]:
    parsed = feedparser.parse(fixture(name))
    return [entry_record(entry, [], None) for entry in parsed.entries]


def test_feeds_media_fields_become_the_picture_and_audio_does_not() -> None:
    mastodon = entries("wild/mastodon.rss")
    # media:content with medium="image"; the other posts have none.
    assert [e.get("image") for e in mastodon] == [
        "https://files.social.example/media/app.png",
        None,
        None,
    ]
    # media:thumbnail beside an audio enclosure; an audio media:content is no picture.
    radio = entries("wild/undeclared_prefixes.rss")
    assert [e.get("image") for e in radio] == ["https://radio.example.com/42.jpg", None]
    assert [e.get("image") for e in entries("wild/podcast_links.atom")] == [None]
    # media:content, an image enclosure, media:thumbnail, and an audio enclosure.
    assert [e.get("image") for e in entries("pictures.rss")] == [
        "https://img.harbour.example.com/foghorn.jpg",
        "https://img.harbour.example.com/ferry.png",
        "https://img.harbour.example.com/seals-thumb.jpg",
        None,
    ]


def test_an_image_enclosure_is_a_picture_and_a_bad_one_costs_only_the_picture() -> None:
    item = (
        "<item><title>{title}</title><link>https://news.example.com/{title}</link>"
        "{media}<category>Japan</category></item>"
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>T</title><link>https://news.example.com/</link><description>D"
        "</description>"
        + item.format(
            title="enclosure",
            media='<enclosure url="https://img.example.com/e.jpg" type="image/jpeg" length="9"/>',
        )
        + item.format(title="relative", media='<media:thumbnail url="/thumbs/r.png"/>')
        + item.format(
            title="bad",
            media='<media:content url="javascript:alert(1)" medium="image"/>'
            '<media:thumbnail url="https://img.example.com/t.png"/>',
        )
        + "</channel></rss>"
    )
    found = [entry_record(e, [], None) for e in feedparser.parse(body.encode()).entries]
    assert [e["image"] for e in found] == [
        "https://img.example.com/e.jpg",
        # Relative to the story's own link.
        "https://news.example.com/thumbs/r.png",
        # A picture that could not be one is passed over, for the next.
        "https://img.example.com/t.png",
    ]


# The delivery engine


async def publish_pictures(store: Store, *images: str | None) -> None:
    await store.add_articles(
        [replace(make_article(n, ["Japan"]), image=image) for n, image in enumerate(images, 1)],
        notify=True,
        now=time.time(),
    )


async def message_ids(store: Store) -> tuple[object, ...] | None:
    """Deliveries sent, those with a message id, and how many different ids."""
    return await read_row(
        store,
        "SELECT COUNT(*), COUNT(message_id), COUNT(DISTINCT message_id) FROM deliveries "
        "WHERE status = 'sent'",
    )


async def test_each_chat_gets_the_picture_in_the_form_it_chose(store: Store) -> None:
    for chat, pictures in ((1, PictureMode.PHOTO), (2, PictureMode.PREVIEW), (3, PictureMode.OFF)):
        await add_chat(store, chat, "Japan")
        await store.save_chat_settings(chat, ChatSettings(pictures=pictures))
    await publish_pictures(store, PICTURE, None)
    sender = FakeSender()
    await run_until_settled(DeliveryEngine(store, sender, CONFIG), store)
    assert [(chat, photo) for chat, photo, _ in sender.photos] == [(1, PICTURE)]
    assert sender.previews == [(2, PICTURE)]
    # The story without a picture goes out as text to everyone, and so does the one with a
    # picture to the chat that wants none.
    assert [len(sender.to(chat)) for chat in (1, 2, 3)] == [1, 2, 2]
    [(_, _, caption)] = sender.photos
    assert caption == sender.to(3)[0]
    assert sender.refused == []
    # Each delivery keeps the id of the message it went out in, photos too.
    assert await message_ids(store) == (6, 6, 6)


async def test_a_file_id_goes_as_a_photo_even_to_a_chat_that_wants_previews(
    store: Store,
) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(pictures=PictureMode.PREVIEW))
    await publish_pictures(store, FILE_ID)
    sender = FakeSender()
    await run_until_settled(DeliveryEngine(store, sender, CONFIG), store)
    assert [(chat, photo) for chat, photo, _ in sender.photos] == [(1, FILE_ID)]
    assert sender.previews == []


async def test_a_refused_picture_goes_out_as_text_once_and_is_not_tried_again(
    store: Store,
) -> None:
    for chat in (1, 2, 3):
        await add_chat(store, chat, "Japan")
    await publish_pictures(store, PICTURE)
    sender = FakeSender(bad_photos={PICTURE})
    # Five sends a second: each starts after the one before it was answered.
    engine = DeliveryEngine(store, sender, fast_config(rate_limit=5))
    await run_until_settled(engine, store)
    assert sender.photos == []
    assert [len(sender.to(chat)) for chat in (1, 2, 3)] == [1, 1, 1]
    assert "Story 1" in sender.to(1)[0]
    assert (engine.counters.sent, engine.counters.failed) == (3, {})
    # Refused once: the chats reached after it got the text without another try.
    assert engine.counters.pictures_refused == 1
    # The text's message id is the one kept.
    assert await message_ids(store) == (3, 3, 3)


async def test_digests_and_bursts_stay_text_and_share_their_message_id(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(mode=DeliveryMode.INSTANT, combine_bursts=True))
    await publish_pictures(store, PICTURE, PICTURE, PICTURE, PICTURE, PICTURE)
    sender = FakeSender()
    await run_until_settled(DeliveryEngine(store, sender, CONFIG), store)
    assert sender.photos == []
    assert len(sender.to(1)) == 1
    ids = await read_row(
        store, "SELECT COUNT(*), COUNT(DISTINCT message_id) FROM deliveries WHERE chat_id = 1"
    )
    assert ids == (5, 1)


async def test_the_sender_sends_photos_and_previews_and_returns_their_message_ids(
    emulator: BotApiEmulator,
) -> None:
    emulator.add_user(READER)
    async with ExtBot(TOKEN, base_url=emulator.base_url) as bot:
        sender = PtbSender(bot)
        first = await sender.send_photo(READER, PICTURE, "<b>Harbour</b>")
        second = await sender.send_message(READER, "<b>Harbour</b>", picture=PICTURE)
        for photo, description in (
            ("https://pictures.invalid/1.jpg", "failed to get HTTP URL content"),
            ("AgACAgEmuNeverIssued", "wrong file identifier/HTTP URL specified"),
            ("ftp://img.example.com/1.jpg", "wrong file identifier/HTTP URL specified"),
        ):
            with pytest.raises(BadRequest, match=f"(?i){description}"):
                await sender.send_photo(READER, photo, "<b>Harbour</b>")
        sent = emulator.sent_messages(READER)
        # A photo once sent goes again by its file_id.
        third = await sender.send_photo(READER, sent[0]["photo"][-1]["file_id"], "again")
    assert [first, second, third] == [m["message_id"] for m in emulator.sent_messages(READER)]
    assert len({first, second, third}) == 3
    assert sent[0]["caption"] == "Harbour"
    assert sent[1]["link_preview_options"] == {
        "url": PICTURE,
        "prefer_large_media": True,
        "show_above_text": True,
    }
