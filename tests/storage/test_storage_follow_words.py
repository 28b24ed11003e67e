"""Words inside a follow, on both backends: stored, changed, cleared, applied at fan-out."""

from __future__ import annotations

import time

from bot.tags import parse_tag
from storage.base import Store
from storage.models import FollowOutcome
from storage.words import FollowWords
from tests.conftest import add_chat, make_article


def pairs(*names: str) -> list[tuple[str, str]]:
    return [(t.name, t.key) for t in (parse_tag(name) for name in names)]


async def recipients(store: Store) -> set[tuple[int, int]]:
    claimed = await store.claim_due(time.time() + 1, 1000, 60)
    return {(delivery.chat_id, delivery.thread_id) for delivery in claimed}


async def test_words_are_stored_with_the_follow_and_shown(store: Store) -> None:
    await add_chat(store, 1)
    words = FollowWords(only=("earthquake", "tsunami"), skip=("baseball",))
    results = await store.follow(1, pairs("Japan", "Russia"), 100, 0.0, words=words)
    assert [r.outcome for r in results] == [FollowOutcome.FOLLOWED] * 2
    follows = await store.follows(1)
    assert [(f.tag.name, f.words) for f in follows] == [("Japan", words), ("Russia", words)]


async def test_following_again_with_words_replaces_them_and_without_keeps_them(
    store: Store,
) -> None:
    await add_chat(store, 1, "Japan")
    assert (await store.follows(1))[0].words == FollowWords()
    await store.follow(1, pairs("Japan"), 100, 0.0, words=FollowWords(only=("землетрясение",)))
    assert (await store.follows(1))[0].words == FollowWords(only=("землетрясение",))
    again = await store.follow(1, pairs("Japan"), 100, 0.0)
    assert again[0].outcome is FollowOutcome.ALREADY
    assert (await store.follows(1))[0].words == FollowWords(only=("землетрясение",))


async def test_set_follow_words_changes_and_clears(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    (follow,) = await store.follows(1)
    assert await store.set_follow_words(1, follow.tag.id, FollowWords(skip=("野球",)))
    assert (await store.follows(1))[0].words == FollowWords(skip=("野球",))
    assert await store.set_follow_words(1, follow.tag.id, FollowWords())
    assert (await store.follows(1))[0].words == FollowWords()
    # Not followed by chat 2, nor by a topic of chat 1.
    assert not await store.set_follow_words(2, follow.tag.id, FollowWords(only=("x",)))
    assert not await store.set_follow_words(1, follow.tag.id, FollowWords(only=("x",)), 7)


async def test_fan_out_applies_only_and_skip_words(store: Store) -> None:
    await add_chat(store, 1, "Japan")  # everything
    await add_chat(store, 2)
    await store.follow(2, pairs("Japan"), 100, 0.0, words=FollowWords(only=("earthquake",)))
    await add_chat(store, 3)
    await store.follow(3, pairs("Japan"), 100, 0.0, words=FollowWords(skip=("baseball",)))
    await add_chat(store, 4)
    both = FollowWords(only=("earthquake", "tsunami"), skip=("drill",))
    await store.follow(4, pairs("Japan"), 100, 0.0, words=both)

    quake = make_article(1, ["Japan"], title="Earthquake hits Hokkaido")
    (result,) = await store.add_articles([quake], notify=True, now=time.time())
    assert result.recipients == 4
    assert await recipients(store) == {(1, 0), (2, 0), (3, 0), (4, 0)}

    game = make_article(2, ["Japan"], title="Baseball: Tigers win", teaser="No earthquakes")
    (result,) = await store.add_articles([game], notify=True, now=time.time())
    assert result.recipients == 1
    assert await recipients(store) == {(1, 0)}

    drill = make_article(3, ["Japan"], title="Tsunami drill in Sendai")
    (result,) = await store.add_articles([drill], notify=True, now=time.time())
    assert await recipients(store) == {(1, 0), (3, 0)}


async def test_two_follows_of_one_story_deliver_once_when_either_lets_it_through(
    store: Store,
) -> None:
    await add_chat(store, 1)
    await store.follow(1, pairs("Japan"), 100, 0.0, words=FollowWords(skip=("baseball",)))
    await store.follow(1, pairs("Sports"), 100, 0.0, words=FollowWords(only=("baseball",)))
    await add_chat(store, 2)
    await store.follow(2, pairs("Japan"), 100, 0.0, words=FollowWords(skip=("baseball",)))
    await store.follow(2, pairs("Sports"), 100, 0.0)
    await add_chat(store, 3)
    await store.follow(3, pairs("Japan"), 100, 0.0, words=FollowWords(only=("baseball",)))
    await store.follow(3, pairs("Sports"), 100, 0.0, words=FollowWords(only=("baseball",)))
    await add_chat(store, 4)
    await store.follow(4, pairs("Japan"), 100, 0.0, words=FollowWords(only=("sumo",)))
    await store.follow(4, pairs("Sports"), 100, 0.0, words=FollowWords(skip=("baseball",)))

    story = make_article(1, ["Japan", "Sports"], title="Baseball final in Tokyo")
    (result,) = await store.add_articles([story], notify=True, now=time.time())
    assert result.recipients == 3
    claimed = await store.claim_due(time.time() + 1, 1000, 60)
    assert sorted(delivery.chat_id for delivery in claimed) == [1, 2, 3]


async def test_words_work_per_forum_topic_and_inactive_chats_get_nothing(store: Store) -> None:
    await add_chat(store, -100, chat_type="supergroup")
    await store.follow(-100, pairs("Japan"), 100, 0.0, 5, words=FollowWords(only=("quake",)))
    await store.follow(-100, pairs("Japan"), 100, 0.0, 6, words=FollowWords(skip=("quake",)))
    await store.follow(-100, pairs("Japan"), 100, 0.0, 7)
    await add_chat(store, 9)
    await store.follow(9, pairs("Japan"), 100, 0.0, words=FollowWords(only=("quake",)))
    await store.deactivate_chat(9, "blocked", 0.0)
    story = make_article(1, ["Japan"], title="Quake in Japan")
    await store.add_articles([story], notify=True, now=time.time())
    assert await recipients(store) == {(-100, 5), (-100, 7)}
    assert (await store.follows(-100, 6))[0].words == FollowWords(skip=("quake",))


async def test_a_migrated_group_keeps_its_words(store: Store) -> None:
    await add_chat(store, -1, chat_type="group")
    await store.follow(-1, pairs("Japan"), 100, 0.0, words=FollowWords(only=("quake",)))
    await add_chat(store, -1001, chat_type="supergroup")
    await store.migrate_chat(-1, -1001)
    assert (await store.follows(-1001))[0].words == FollowWords(only=("quake",))


async def test_stories_without_notify_queue_nothing_for_worded_follows(store: Store) -> None:
    await add_chat(store, 1)
    await store.follow(1, pairs("Japan"), 100, 0.0, words=FollowWords(only=("quake",)))
    story = make_article(1, ["Japan"], title="Quake")
    (result,) = await store.add_articles([story], notify=False, now=time.time())
    assert result.recipients == 0
    assert await recipients(store) == set()
