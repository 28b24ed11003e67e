"""A chat's import (/import): every follow, muted word and setting replaced in one go, on both
backends; the export side reads every forum topic's follows."""

from __future__ import annotations

import pytest

from bot.tags import parse_tag
from storage.base import Store
from storage.models import ChatSettings, ChatSetup, DeliveryMode, ImportedFollow
from storage.words import FollowWords
from tests.conftest import add_chat


def imported(name: str, thread_id: int = 0, words: FollowWords | None = None) -> ImportedFollow:
    tag = parse_tag(name)
    return ImportedFollow(tag.name, tag.key, words or FollowWords(), thread_id)


SETTINGS = ChatSettings(
    language="ru",
    link_previews=False,
    mode=DeliveryMode.DAILY,
    combine_bursts=True,
    digest_hour=7,
    timezone="Europe/Moscow",
    quiet_start=22 * 60,
    quiet_end=7 * 60,
)


async def test_import_replaces_follows_mutes_and_settings(store: Store) -> None:
    await add_chat(store, 1, "Japan", "Sports")
    await store.mute(1, ["baseball", "golf"], 50, 0.0)
    words = FollowWords(only=("earthquake",), skip=("drill",))
    setup = ChatSetup(
        follows=(imported("Japan", words=words), imported("Science"), imported("Tech", 7)),
        muted=("trump",),
        settings=SETTINGS,
    )
    await store.import_chat(1, setup, 10.0)
    follows = await store.all_follows(1)
    assert [(thread, f.tag.name, f.words) for thread, f in follows] == [
        (0, "Japan", words),
        (0, "Science", FollowWords()),
        (7, "Tech", FollowWords()),
    ]
    prefs = (await store.chat_prefs([1]))[1]
    assert prefs.muted == ("trump",)
    assert prefs.settings == SETTINGS
    # "Sports" lost its only follower and had no story: it is gone.
    assert "sports" not in await store.find_tags(["sports"])
    assert (await store.find_tags(["japan"]))["japan"].follower_count == 1


async def test_import_of_nothing_empties_the_chat_and_touches_no_other(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.mute(1, ["golf"], 50, 0.0)
    await store.mute(2, ["golf"], 50, 0.0)
    await store.import_chat(1, ChatSetup((), (), ChatSettings()), 10.0)
    assert await store.all_follows(1) == []
    assert (await store.chat_prefs([1]))[1].muted == ()
    assert [f.tag.name for _, f in await store.all_follows(2)] == ["Japan"]
    assert (await store.chat_prefs([2]))[2].muted == ("golf",)


async def test_a_failed_import_changes_nothing(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.mute(1, ["golf"], 50, 0.0)
    # A word the database refuses (no word at all) fails the whole import late, after the
    # follows and mutes were removed: they come back, and no setting changed.
    broken: tuple[str, ...] = ("trump", None)  # type: ignore[assignment]
    setup = ChatSetup((imported("Science"),), broken, SETTINGS)
    with pytest.raises(Exception):  # noqa: B017, PT011 - each backend raises its own
        await store.import_chat(1, setup, 10.0)
    assert [f.tag.name for _, f in await store.all_follows(1)] == ["Japan"]
    prefs = (await store.chat_prefs([1]))[1]
    assert prefs.muted == ("golf",)
    assert prefs.settings == ChatSettings()
