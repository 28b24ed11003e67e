"""/follow never grows the database without bound (issue 12, point 10): a name past the
100-tag limit creates no tag, and a tag left with no story and no follower goes away when
it is unfollowed."""

from __future__ import annotations

import asyncio

from storage.base import Store
from storage.models import FollowOutcome
from tests.conftest import make_article

LIMIT = 100


def names(first: int, count: int) -> list[tuple[str, str]]:
    return [(f"Name{number}", f"name{number}") for number in range(first, first + count)]


async def test_names_past_the_limit_create_no_tags(store: Store) -> None:
    await store.register_chat(1, "private", None)
    wanted = names(0, 150)
    results = await store.follow(1, wanted, LIMIT, 0.0)
    outcomes = [result.outcome for result in results]
    assert outcomes == [FollowOutcome.FOLLOWED] * 100 + [FollowOutcome.LIMIT] * 50
    # The answer still names each tag over the limit, as it was typed.
    assert [result.tag.name for result in results[100:]] == [name for name, _ in wanted[100:]]
    known = await store.find_tags([key for _, key in wanted])
    assert sorted(known) == sorted(key for _, key in wanted[:100])
    # A tag that exists already is named over the limit too, and stays as it was.
    await store.add_articles([make_article(1, ["Japan"])], notify=False, now=0.0)
    [japan] = await store.follow(1, [("Japan", "japan")], LIMIT, 0.0)
    assert japan.outcome is FollowOutcome.LIMIT
    assert japan.tag.story_count == 1
    assert (await store.find_tags(["japan"]))["japan"].id == japan.tag.id


async def test_following_and_unfollowing_new_names_leaves_no_tags_behind(store: Store) -> None:
    await store.register_chat(1, "private", None)
    await store.register_chat(2, "private", None)
    await store.add_articles([make_article(1, ["Japan"])], notify=False, now=0.0)
    await store.follow(2, [("Shared", "shared")], LIMIT, 0.0)
    for round_number in range(5):
        # The report: 680 new names each time, followed then unfollowed.
        wanted = [*names(round_number * 1000, 680), ("Japan", "japan"), ("Shared", "shared")]
        await store.follow(1, wanted, LIMIT, 0.0)
        followed = await store.followed_tags(1)
        assert len(followed) == LIMIT
        if round_number % 2:
            assert await store.unfollow_all(1) == LIMIT
        else:
            removed = await store.unfollow(1, [tag.id for tag in followed])
            assert len(removed) == LIMIT
    # (SQLite keeps the newest tag until a newer one exists: see the test below.)
    await store.follow(2, [("Later", "later")], LIMIT, 0.0)
    every_key = [key for n in range(5) for _, key in names(n * 1000, 680)]
    assert await store.find_tags(every_key) == {}
    # A tag with a story, or with another follower, stays.
    kept = await store.find_tags(["japan", "shared", "later"])
    assert sorted(kept) == ["japan", "later", "shared"]
    assert kept["japan"].story_count == 1
    assert kept["shared"].follower_count == 1
    assert [tag.key for tag in await store.followed_tags(2)] == ["later", "shared"]


async def test_the_id_of_a_removed_tag_is_never_given_to_another(store: Store) -> None:
    """Old buttons carry tag ids: "follow again" under an unfollowed tag must never follow
    a tag created since. (SQLite gives a new row the highest id + 1, so it keeps the newest
    tag until a newer one exists; PostgreSQL's ids come from a sequence.)"""
    await store.register_chat(1, "private", None)
    [gone] = await store.follow(1, [("Gone", "gone")], LIMIT, 0.0)
    assert [tag.key for tag in await store.unfollow(1, [gone.tag.id])] == ["gone"]
    [later] = await store.follow(1, [("Later", "later")], LIMIT, 0.0)
    assert later.tag.id > gone.tag.id
    assert await store.get_tags([gone.tag.id]) == {}
    assert await store.find_tags(["gone"]) == {}


async def test_a_follow_or_a_story_racing_the_removal_of_its_tag_keeps_it(store: Store) -> None:
    """On PostgreSQL the removal runs beside other transactions: a follow or a story that
    takes the tag meanwhile must never lose it (nor fail)."""
    await store.register_chat(1, "private", None)
    await store.register_chat(2, "private", None)
    for number in range(20):
        name, key = f"Race{number}", f"race{number}"
        [first] = await store.follow(1, [(name, key)], LIMIT, 0.0)
        story = make_article(number, [name])
        _, [followed], [stored] = await asyncio.gather(
            store.unfollow(1, [first.tag.id]),
            store.follow(2, [(name, key)], LIMIT, 0.0),
            store.add_articles([story], notify=False, now=0.0),
        )
        assert followed.outcome is FollowOutcome.FOLLOWED
        tag = (await store.find_tags([key]))[key]
        assert tag.follower_count == 1
        assert tag.story_count == 1
        assert [t.key for t in await store.followed_tags(2)] == [key]
        assert (await store.get_articles([stored.article_id]))[stored.article_id].tags == (name,)
        await store.unfollow_all(2)
