"""Pictures and message ids in the store (migration 0006_pictures), on both backends: a story's
picture, a chat's choice of how to show it, and the id of the message a delivery went out in."""

from __future__ import annotations

import time
from dataclasses import replace

from storage import open_store
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.models import (
    ChatSettings,
    ChatSetup,
    DeliveryStatus,
    DeliveryUpdate,
    PictureMode,
    is_web_image,
)
from storage.postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.url import DatabaseTarget
from tests.conftest import add_chat, make_article
from tests.storage.direct import create_old_schema, execute, fetch, read_row

PICTURE = "https://img.example.com/story/1.jpg"
# A file_id as Telegram gives one for a photo sent to the bot.
FILE_ID = "AgACAgIAAxkBAAIBW2Zx9k3Q-0_ab12cdEFghIJklmNOpqrs"


def test_the_pictures_migration_follows_the_follow_words_on_both_backends() -> None:
    for migrations in (MIGRATIONS, POSTGRES_MIGRATIONS):
        names = [migration.name for migration in migrations]
        assert names.index("0006_pictures") == names.index("0005_follow_words") + 1
        statements = " ".join(next(m for m in migrations if m.name == "0006_pictures").statements)
        for column in ("articles ADD COLUMN image", "chats ADD COLUMN pictures"):
            assert column in statements
        assert "deliveries ADD COLUMN message_id" in statements


def test_a_file_id_is_no_web_picture() -> None:
    assert is_web_image(PICTURE)
    assert not is_web_image(FILE_ID)


async def test_a_storys_picture_is_kept_and_read_back_everywhere(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles(
        [
            replace(make_article(1, ["Japan"], title="Harbour lights"), image=PICTURE),
            replace(make_article(2, ["Japan"]), image=FILE_ID),
            make_article(3, ["Japan"]),
        ],
        notify=False,
        now=time.time(),
    )
    by_id = await store.get_articles([1, 2, 3])
    assert [by_id[i].image for i in (1, 2, 3)] == [PICTURE, FILE_ID, None]
    [japan] = (await store.find_tags(["japan"])).values()
    latest = await store.latest_articles(japan.id, 10)
    assert [a.image for a in latest] == [None, FILE_ID, PICTURE]
    assert [a.image for a in await store.latest_for_chat(1, 10)] == [None, FILE_ID, PICTURE]
    [found] = await store.search("harbour", 10)
    assert found.image == PICTURE


async def test_a_chats_choice_of_pictures_is_saved_and_imported(store: Store) -> None:
    await add_chat(store, 1)
    assert (await store.chat_prefs([1]))[1].settings.pictures is PictureMode.PHOTO
    await store.save_chat_settings(1, ChatSettings(pictures=PictureMode.PREVIEW))
    assert (await store.chat_prefs([1]))[1].settings.pictures is PictureMode.PREVIEW
    await store.import_chat(1, ChatSetup((), (), ChatSettings(pictures=PictureMode.OFF)), 1.0)
    assert (await store.chat_prefs([1]))[1].settings.pictures is PictureMode.OFF


async def test_a_sent_delivery_keeps_its_message_id(store: Store) -> None:
    for chat in (1, 2, 3):
        await add_chat(store, chat, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    claimed = {d.chat_id: d for d in await store.claim_due(time.time() + 1, 10, 60.0)}
    await store.update_deliveries(
        [
            DeliveryUpdate(
                claimed[1].id, DeliveryStatus.SENT, 1, claimed[1].due_at, message_id=2**40
            ),
            DeliveryUpdate(claimed[2].id, DeliveryStatus.FAILED, 1, claimed[2].due_at, "400"),
            # A failed attempt that keeps the delivery for a retry has no message.
            DeliveryUpdate(
                claimed[3].id, DeliveryStatus.PENDING, 1, claimed[3].due_at, "502", release=False
            ),
        ]
    )
    ids = {
        chat: await read_row(store, f"SELECT message_id FROM deliveries WHERE chat_id = {chat}")  # noqa: S608
        for chat in (1, 2, 3)
    }
    # Past 2**31: a supergroup's message ids are 64-bit in the Bot API.
    assert ids == {1: (2**40,), 2: (None,), 3: (None,)}


async def test_upgrading_keeps_stories_chats_and_deliveries(database: DatabaseTarget) -> None:
    names = [m.name for m in MIGRATIONS]
    await create_old_schema(database, *names[: names.index("0006_pictures")])
    await execute(
        database,
        "INSERT INTO chats (id, type, created_at, updated_at, link_previews) "
        "VALUES (7, 'private', 1.0, 1.0, FALSE)",
        "INSERT INTO articles (id, url, title, teaser, published_at, created_at) "
        "VALUES (1, 'https://news.example.com/old', 'Old', '', 1.0, 1.0)",
        "INSERT INTO deliveries (article_id, chat_id, status, due_at, created_at) "
        "VALUES (1, 7, 'sent', 1.0, 1.0)",
    )
    store = await open_store(database)
    try:
        assert (await store.get_articles([1]))[1].image is None
        settings = (await store.chat_prefs([7]))[7].settings
        assert (settings.pictures, settings.link_previews) == (PictureMode.PHOTO, False)
    finally:
        await store.close()
    assert await fetch(database, "SELECT status, message_id FROM deliveries") == [("sent", None)]
