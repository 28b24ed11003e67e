from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chats import SHARED_SETTINGS_FOR, ChatRegistry
from storage.base import Store
from storage.sqlite import SqliteStore


async def test_a_new_chat_starts_in_its_first_users_language(store: SqliteStore) -> None:
    registry = ChatRegistry(store)
    await registry.seen(5, "private", None, None, "ru-RU")
    assert (await registry.settings(5)).language == "ru"
    assert (await store.get_chat(5)) is not None


async def test_a_known_chat_needs_no_second_read_for_its_settings(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.register_chat(7, "private", None, None, "ru")
    registry = ChatRegistry(store)
    await registry.seen(7, "private", None)

    async def no_more_reads(chat_ids: object) -> object:
        raise AssertionError("the settings were read again")

    monkeypatch.setattr(store, "chat_prefs", no_more_reads)
    assert (await registry.settings(7)).language == "ru"


async def test_a_renamed_group_is_recorded_again(store: SqliteStore) -> None:
    await store.register_chat(-100, "supergroup", "Old name", "old")
    await ChatRegistry(store).seen(-100, "supergroup", "New name", "new")
    chat = await store.get_chat(-100)
    assert chat is not None
    assert (chat.title, chat.username) == ("New name", "new")


async def test_a_chat_that_blocked_the_bot_is_active_when_it_writes_again(
    store: SqliteStore,
) -> None:
    await store.register_chat(9, "private", None)
    await store.deactivate_chat(9, "Forbidden: bot was blocked by the user", 0.0)
    await ChatRegistry(store).seen(9, "private", None)
    chat = await store.get_chat(9)
    assert chat is not None
    assert chat.active


async def test_settings_another_instance_changed_are_seen_within_seconds(store: Store) -> None:
    await store.register_chat(11, "private", None, None, "en")
    now = [0.0]
    here = ChatRegistry(store, clock=lambda: now[0])
    elsewhere = ChatRegistry(store)
    await here.seen(11, "private", None)
    await elsewhere.change_settings(11, lambda settings: replace(settings, language="ru"))
    now[0] += SHARED_SETTINGS_FOR
    # Alone with its database a process makes every change itself, so it keeps what it read.
    expected = "ru" if store.shared else "en"
    assert (await here.settings(11)).language == expected


async def test_a_change_is_made_on_the_settings_as_stored(store: Store) -> None:
    await store.register_chat(12, "private", None, None, "en")
    here, elsewhere = ChatRegistry(store), ChatRegistry(store)
    await here.seen(12, "private", None)
    await elsewhere.change_settings(12, lambda settings: replace(settings, language="ru"))
    await here.change_settings(12, lambda settings: replace(settings, digest_hour=6))
    stored = (await store.chat_prefs([12]))[12].settings
    # With one process the other registry cannot exist; with several, neither change is lost.
    if store.shared:
        assert (stored.language, stored.digest_hour) == ("ru", 6)
    else:
        assert stored.digest_hour == 6
