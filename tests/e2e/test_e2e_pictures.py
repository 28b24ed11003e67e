"""Pictures end to end (issue 16, point 1): a story's picture from the API, `tagwire push`,
`/post` and feeds reaches readers as a photo with the teaser as its caption, or above the text
as each chat chose in /settings; a picture Telegram refuses leaves the text teaser, sent once;
and each delivery keeps the id of the message it went out in."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.context import TagwireApplication
from bot.emulator import MAX_CAPTION_LENGTH, BotApiEmulator, utf16_length
from bot.tags import hashtag
from tests.support.feed_server import FeedServer, fixture
from tests.support.harness import buttons, links, outbox_settled, push
from tests.support.sql import query
from tests.support.updates import follow, say, tap, teaser_text, teasers

API_TOKEN = "test-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
READER = 1001
OTHER = 1002
ADMIN = 5001
PICTURE = "https://img.example.com/harbour.jpg"
# A story Telegram has to shorten for a caption: a long title, a long teaser, twenty tags.
CYRILLIC = "Жители Курильских островов 🏝 обсуждают новые переговоры о мирном договоре"
TAGS = ["Курилы", *(f"Курильские острова {n} новости" for n in range(1, 20))]
# An empty feed: the first poll primes it, so the entries served after it notify.
WRONG_TYPE = "Bad Request: wrong type of the web page content"
EMPTY = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Soon</title>'
    b"<link>https://harbour.example.com/</link><description>Soon</description></channel></rss>"
)


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {
        "ingest_token": API_TOKEN,
        "http_port": 0,
        "admin_ids": frozenset({ADMIN}),
        "feed_interval": 0.2,
    }


def story(slug: str, *tags: str, **fields: Any) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/pictures/{slug}",
        "title": f"Story {slug}",
        "teaser": "With a picture.",
        "tags": list(tags or ("Japan",)),
        **fields,
    }


async def publish(client: httpx.AsyncClient, *stories: dict[str, Any]) -> None:
    answer = await client.post("/api/articles", json=list(stories), headers=AUTH)
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == len(stories), answer.text


def photos(emulator: BotApiEmulator, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in emulator.sent_messages(chat_id) if "photo" in m]


def photo_calls(emulator: BotApiEmulator, chat_id: int) -> list[Any]:
    return [c for c in emulator.calls_of("sendPhoto") if c.params.get("chat_id") == chat_id]


def stored_message_ids(database: Path, chat_id: int) -> list[tuple[object, ...]]:
    return query(
        database,
        "SELECT a.url, d.status, d.message_id FROM deliveries d "
        "JOIN articles a ON a.id = d.article_id WHERE d.chat_id = ? ORDER BY d.id",
        chat_id,
    )


async def test_a_long_story_with_a_picture_reaches_the_reader_as_a_photo_with_its_caption(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    client: httpx.AsyncClient,
    database: Path,
) -> None:
    await follow(emulator, READER, READER, "Курилы")
    url = "https://news.example.com/kurils?id=1&lang=ru"
    title = ("Мирный договор 🕊 " * 17).strip()
    await publish(
        client,
        {
            "url": url,
            "title": title,
            "teaser": " ".join([CYRILLIC] * 25),
            "tags": TAGS,
            "image": PICTURE,
        },
    )
    await emulator.wait_for(lambda: len(photos(emulator, READER)) == 1)
    await outbox_settled(emulator, database)
    [photo] = teasers(emulator, READER)
    [call] = photo_calls(emulator, READER)
    assert call.params["photo"] == PICTURE
    caption = photo["caption"]
    # Shortened to fit (the teaser gave way, at a word), the link and all twenty tags kept.
    assert MAX_CAPTION_LENGTH - 80 < utf16_length(caption) <= MAX_CAPTION_LENGTH
    assert caption.startswith(title + "\n\n")
    assert "…\n\nRead more\n#Курилы #Курильские_острова_1_новости" in caption
    assert caption.endswith(" ".join(str(hashtag(tag)) for tag in TAGS))
    assert links(photo) == [url]
    assert {e["type"] for e in photo["caption_entities"]} >= {"bold", "text_link", "hashtag"}
    assert stored_message_ids(database, READER) == [(url, "sent", photo["message_id"])]
    # The API lists the story with its picture; /latest stays a text list.
    listed = (await client.get("/api/articles", params={"tag": "Курилы"}, headers=AUTH)).json()
    assert [article["image"] for article in listed["articles"]] == [PICTURE]
    latest = await say(emulator, READER, READER, "/latest Курилы")
    assert "photo" not in latest
    assert links(latest) == [url]


async def test_a_picture_telegram_refuses_still_brings_the_story_as_text_exactly_once(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    client: httpx.AsyncClient,
    database: Path,
) -> None:
    emulator.refuse_photos_from("img.example.com", WRONG_TYPE)
    for reader in (READER, OTHER):
        await follow(emulator, reader, reader, "Japan")
    await publish(
        client,
        story("unreachable", image="https://pictures.invalid/1.jpg"),
        story("not-a-picture", image=PICTURE),
    )
    await emulator.wait_for(
        lambda: all(len(teasers(emulator, reader)) == 2 for reader in (READER, OTHER))
    )
    await outbox_settled(emulator, database)
    for reader in (READER, OTHER):
        received = teasers(emulator, reader)
        assert Counter(links(m)[0] for m in received) == Counter(
            f"https://news.example.com/pictures/{slug}" for slug in ("unreachable", "not-a-picture")
        )
        assert all("text" in m and "Read more" in m["text"] for m in received)
        assert photos(emulator, reader) == []
        # Telegram said no to each photo it was sent; the texts went out at once after.
        assert {c.status for c in photo_calls(emulator, reader)} <= {400}
        kept = stored_message_ids(database, reader)
        assert [(status, number) for _, status, number in kept] == [
            ("sent", m["message_id"]) for m in received
        ]
    refusals = {c.response["description"] for c in emulator.calls_of("sendPhoto")}
    assert refusals == {"Bad Request: failed to get HTTP URL content", WRONG_TYPE}


async def test_the_settings_choice_puts_the_picture_above_the_text_or_leaves_it_out(
    emulator: BotApiEmulator, bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    await follow(emulator, READER, READER, "Japan")
    panel = await say(emulator, READER, READER, "/settings")
    assert "Pictures: Photo" in panel["text"]
    above = next(data for label, data in buttons(panel) if label == "Above the text")
    assert (await tap(emulator, READER, READER, panel, above))["text"] == "Saved"

    def panel_says(text: str) -> bool:
        return text in emulator.messages_in(READER)[panel["message_id"]]["text"]

    await emulator.wait_for(lambda: panel_says("Pictures: Above the text"))
    await publish(client, story("above", image=PICTURE))
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    [above_text] = teasers(emulator, READER)
    assert above_text["link_preview_options"] == {
        "url": PICTURE,
        "prefer_large_media": True,
        "show_above_text": True,
    }
    assert emulator.calls_of("sendPhoto") == []

    edited = emulator.messages_in(READER)[panel["message_id"]]
    off = next(data for label, data in buttons(edited) if label == "No pictures")
    assert (await tap(emulator, READER, READER, edited, off))["text"] == "Saved"
    await publish(client, story("none", image=PICTURE))
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 2)
    plain = teasers(emulator, READER)[1]
    assert plain["link_preview_options"] == {"is_disabled": False}
    assert emulator.calls_of("sendPhoto") == []
    again = await say(emulator, READER, READER, "/settings")
    assert "Pictures: No pictures" in again["text"]
    assert "✓ No pictures" in [label for label, _ in buttons(again)]


async def test_feeds_media_fields_become_the_pictures_of_their_stories(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    feed_server: FeedServer,
    database: Path,
) -> None:
    await follow(emulator, READER, READER, "Harbour")
    await bot.bot_data.require().store.add_feed(feed_server.serve("harbour.rss", EMPTY), [], 0.0)
    await emulator.wait_for(lambda: len(feed_server.requests_for("harbour.rss")) >= 2)
    feed_server.serve("harbour.rss", fixture("pictures.rss"))
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 4, timeout=15)
    await outbox_settled(emulator, database)
    received = {links(m)[0]: m for m in teasers(emulator, READER)}
    pictures = {
        link: call.params["photo"]
        for call in photo_calls(emulator, READER)
        for link in [links(call.response["result"])[0]]
    }
    assert pictures == {
        "https://harbour.example.com/foghorn": "https://img.harbour.example.com/foghorn.jpg",
        "https://harbour.example.com/ferry": "https://img.harbour.example.com/ferry.png",
        "https://harbour.example.com/seals": "https://img.harbour.example.com/seals-thumb.jpg",
    }
    # The podcast's audio enclosure is no picture: that story is a text teaser.
    assert "text" in received["https://harbour.example.com/sounds-3"]
    assert teaser_text(received["https://harbour.example.com/seals"]).startswith(
        "Seals back on the breakwater\n\nTwelve of them this morning."
    )


async def test_post_with_a_photo_or_a_picture_url_publishes_the_picture(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    emulator.add_user(ADMIN)
    await follow(emulator, READER, READER, "Japan")
    update = emulator.send_photo(
        ADMIN, ADMIN, caption="/post https://news.example.com/dawn Harbour at dawn #Japan"
    )
    published = (await emulator.wait_for_messages(ADMIN, 1))[0]
    assert "Published. Chats to notify: 1." in published["text"]
    await emulator.wait_for(lambda: len(photos(emulator, READER)) == 1)
    [call] = photo_calls(emulator, READER)
    # The largest size of the admin's photo, by its file_id.
    assert call.params["photo"] == update["message"]["photo"][-1]["file_id"]
    assert photos(emulator, READER)[0]["caption"].startswith("Harbour at dawn\n\nRead more")

    reply = await say(
        emulator,
        ADMIN,
        ADMIN,
        f"/post https://news.example.com/noon {PICTURE} Harbour at noon #Japan",
    )
    assert "Published" in reply["text"]
    await emulator.wait_for(lambda: len(photos(emulator, READER)) == 2)
    assert photo_calls(emulator, READER)[1].params["photo"] == PICTURE
    await outbox_settled(emulator, database)
    assert [row[2] for row in stored_message_ids(database, READER)] == [
        m["message_id"] for m in photos(emulator, READER)
    ]
    # The admin sees each story as its readers do: the picture, the teaser as its caption.
    await emulator.wait_for(lambda: len(photos(emulator, ADMIN)) == 2)
    assert [m["caption"] for m in photos(emulator, ADMIN)] == [
        m["caption"] for m in photos(emulator, READER)
    ]


async def test_post_with_a_picture_telegram_refuses_shows_the_admin_the_text_teaser(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.add_user(ADMIN)
    await follow(emulator, READER, READER, "Japan")
    refused_picture = "https://pictures.invalid/d.jpg"
    emulator.send_text(
        ADMIN, ADMIN, f"/post https://news.example.com/dusk {refused_picture} Dusk #Japan"
    )
    published, teaser = await emulator.wait_for_messages(ADMIN, 2)
    assert "Published. Chats to notify: 1." in published["text"]
    assert teaser["text"].startswith("Dusk\n\nRead more")
    assert photos(emulator, ADMIN) == []
    [refused] = photo_calls(emulator, ADMIN)
    assert refused.status == 400
    # The reader, too, gets the story as text.
    delivered = (await emulator.wait_for_messages(READER, 2))[-1]
    assert delivered["text"].startswith("Dusk")


async def test_tagwire_push_carries_the_picture_and_refuses_a_bad_one(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await follow(emulator, READER, READER, "Japan")
    result = await push(
        database,
        [story("pushed", image=PICTURE), story("bad", image="ftp://img.example.com/1.jpg")],
    )
    assert result.returncode == 1
    assert "image: must start with http:// or https://" in result.stderr + result.stdout
    await emulator.wait_for(lambda: len(photos(emulator, READER)) == 1)
    assert photo_calls(emulator, READER)[0].params["photo"] == PICTURE
