"""A reader's commands, end to end: the real bot, real HTTP, the Bot API emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.tags import deep_link_payload
from tests.support.harness import buttons, links, push
from tests.support.updates import say, tap

READER = 1001
OTHER = 1002
ADMIN = 2001
MEMBER = 2002
GROUP = -4001


@pytest.fixture
def before_start(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER, first_name="Reader")
    emulator.add_user(OTHER, first_name="Other")
    emulator.add_group(GROUP, title="Newsroom", admins=[ADMIN], members=[MEMBER])


async def test_commands_are_registered_for_the_menu(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    commands = emulator.commands[("default", "")]
    assert [c["command"] for c in commands] == [
        "start",
        "help",
        "follow",
        "unfollow",
        "following",
        "latest",
        "tags",
        "search",
        "settings",
        "mute",
        "unmute",
        "muted",
        "timezone",
        "quiet",
        "channels",
        "export",
        "import",
    ]
    assert all(c["description"] for c in commands)
    russian = emulator.commands[("default", "ru")]
    assert [c["command"] for c in russian] == [c["command"] for c in commands]
    assert russian[0]["description"] == "Приветствие и как пользоваться"


async def test_start_welcomes_with_a_short_how_to(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/start")
    assert "Welcome to tagwire" in reply["text"]
    assert "/follow Japan" in reply["text"]
    assert "/latest Japan" in reply["text"]


async def test_help_lists_every_command_with_an_example(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/help")
    for command in ("/follow", "/unfollow", "/following", "/latest", "/tags", "/help"):
        assert command in reply["text"]
    assert "/latest Japan 10" in reply["text"]


async def test_follow_a_tag_without_stories_says_so(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/follow Japan")
    assert "Now following Japan" in reply["text"]
    assert "No story is tagged Japan yet" in reply["text"]


async def test_follow_spellings_are_one_tag_shown_as_stories_spell_it(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, "/follow #KURIL islands")
    assert "Now following Kuril Islands" in reply["text"]
    again = await say(emulator, READER, READER, "/follow  kuril ISLANDS ")
    assert "You already follow Kuril Islands" in again["text"]


async def test_follow_several_tags_and_unicode(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/follow Japan, Россия, 日本, 🚀")
    for name in ("Japan", "Россия", "日本", "🚀"):
        assert name in reply["text"]
    following = await say(emulator, READER, READER, "/following")
    assert "Tags you follow (4)" in following["text"]


async def test_unknown_tag_suggests_close_ones(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, "/follow Japn")
    assert "No story is tagged Japn yet" in reply["text"]
    assert "Did you mean Japan" in reply["text"]
    assert any(label == "Japan" for label, _ in buttons(reply))


async def test_invalid_tag_gets_a_clear_answer(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/follow ###")
    assert "is not a tag" in reply["text"]


async def test_follow_without_argument_offers_popular_tags_as_buttons(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, "/follow")
    labels = [label for label, _ in buttons(reply)]
    assert labels[:2] == ["Japan", "Russia"]
    japan = next(data for label, data in buttons(reply) if label == "Japan")
    answer = await tap(emulator, READER, READER, reply, japan)
    assert answer["text"] == "Following Japan"
    await emulator.wait_for(
        lambda: (
            "✓ Japan" in [b for b, _ in buttons(emulator.messages_in(READER)[reply["message_id"]])]
        )
    )
    following = await say(emulator, READER, READER, "/following")
    assert "Japan" in following["text"]


async def test_following_has_unfollow_buttons_that_edit_the_list(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Japan, Russia")
    listing = await say(emulator, READER, READER, "/following")
    assert "Tags you follow (2)" in listing["text"]
    russia = next(data for label, data in buttons(listing) if label == "✕ Russia")
    answer = await tap(emulator, READER, READER, listing, russia)
    assert answer["text"] == "Stopped following Russia"
    await emulator.wait_for(
        lambda: "Tags you follow (1)" in emulator.messages_in(READER)[listing["message_id"]]["text"]
    )
    edited = emulator.messages_in(READER)[listing["message_id"]]
    assert [label for label, _ in buttons(edited)] == ["✕ Japan", "✎ Japan"]


async def test_forged_or_stale_button_gets_a_polite_answer(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    listing = await say(emulator, READER, READER, "/following")
    for data in ("t:follow:999999", "garbage", "f:unfollow:0", "' OR 1=1 --", "x" * 64):
        answer = await tap(emulator, READER, READER, listing, data)
        assert "no longer works" in answer["text"]
    reply = await say(emulator, READER, READER, "/help")
    assert "What I can do" in reply["text"]


async def test_unfollow_by_name_several_and_all(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Japan, Russia, Sanctions")
    reply = await say(emulator, READER, READER, "/unfollow japan, Nowhere")
    assert "Stopped following Japan" in reply["text"]
    assert "You do not follow Nowhere" in reply["text"]
    everything = await say(emulator, READER, READER, "/unfollow all")
    assert "Stopped following every tag (2)" in everything["text"]
    empty = await say(emulator, READER, READER, "/unfollow")
    assert "You do not follow any tags yet" in empty["text"]


async def test_latest_lists_the_newest_first_with_links(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, "/latest Japan 3")
    text = reply["text"]
    assert text.startswith("Latest in Japan")
    order = [
        "Abe and Putin agree",
        "Japan tightens export controls",
        "Japanese companies buy",
    ]
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)
    assert "Osaka prepares" not in text
    assert len(links(reply)) == 3


async def test_latest_default_is_five_and_without_a_tag_uses_the_chats_tags(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    assert len(links(await say(emulator, READER, READER, "/latest japan"))) == 5
    nothing = await say(emulator, READER, READER, "/latest")
    assert "do not follow any tags" in nothing["text"]
    await say(emulator, READER, READER, "/follow Sanctions")
    mine = await say(emulator, READER, READER, "/latest")
    assert mine["text"].startswith("Latest in your tags")
    assert len(links(mine)) == 2


@pytest.mark.parametrize("count", ["0", "-1", "9999", "2.5", "abc"])
async def test_latest_with_a_bad_count_gets_a_clear_answer(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path, count: str
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, f"/latest Japan {count}")
    assert f"“{count}” is not a number of stories" in reply["text"]
    assert "1 to 20" in reply["text"]


async def test_latest_unknown_tag_suggests_and_never_fails(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    reply = await say(emulator, READER, READER, "/latest Rusia")
    assert "I know no tag “Rusia”" in reply["text"]
    assert "Did you mean Russia" in reply["text"]
    russia = next(data for label, data in buttons(reply) if label == "Russia")
    before = len(emulator.sent_messages(READER))
    await tap(emulator, READER, READER, reply, russia)
    latest = (await emulator.wait_for_messages(READER, before + 1))[before]
    assert latest["text"].startswith("Latest in Russia")
    nothing = await say(emulator, READER, READER, "/latest Zzzqqq")
    assert "/tags lists the active ones" in nothing["text"]


async def test_tags_shows_activity_and_follow_buttons(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    await say(emulator, OTHER, OTHER, "/follow Russia")
    reply = await say(emulator, READER, READER, "/tags")
    assert "Most active tags" in reply["text"]
    assert "1. Russia — stories: 8 (30 days: 0) · followers: 1" in reply["text"]
    assert "2. Japan — stories: 8 (30 days: 0) · followers: 0" in reply["text"]
    labels = [label for label, data in buttons(reply) if data.startswith("t:follow:")]
    assert labels[:2] == ["Russia", "Japan"]


async def test_tags_before_any_story_says_there_are_none(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/tags")
    assert "No stories yet" in reply["text"]


async def test_deep_link_follows_the_tag_at_once(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    payload = deep_link_payload("Россия")
    assert payload is not None
    reply = await say(emulator, READER, READER, f"/start {payload}")
    assert "Welcome" in reply["text"]
    assert "Now following Россия" in reply["text"]
    bad = await say(emulator, READER, READER, "/start follow_%%%")
    assert "does not name a tag" in bad["text"]


async def test_follow_answer_carries_a_share_link(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, READER, READER, "/follow Japan")
    assert f"https://t.me/{emulator.bot_username}?start=follow_" in reply["text"]


async def test_unknown_command_and_plain_text_point_to_help(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    unknown = await say(emulator, READER, READER, "/frobnicate now")
    assert "I do not know /frobnicate" in unknown["text"]
    text = await say(emulator, READER, READER, "hello there")
    assert "/help" in text["text"]


async def test_in_a_group_only_admins_change_subscriptions(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    refused = await say(emulator, GROUP, MEMBER, "/follow Japan")
    assert "Only this group's admins" in refused["text"]
    accepted = await say(emulator, GROUP, ADMIN, f"/follow@{emulator.bot_username} Japan")
    assert "Now following Japan" in accepted["text"]
    listing = await say(emulator, GROUP, MEMBER, "/following")
    assert "Japan" in listing["text"]
    data = next(data for _, data in buttons(listing))
    answer = await tap(emulator, GROUP, MEMBER, listing, data)
    assert "Only this group's admins" in answer["text"]
    assert "Japan" in (await say(emulator, GROUP, MEMBER, "/following"))["text"]


async def test_group_ignores_plain_text_and_other_bots_commands(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.send_text(GROUP, MEMBER, "just chatting")
    emulator.send_text(GROUP, MEMBER, "/weather@other_bot")
    emulator.send_text(GROUP, MEMBER, "/weather")
    reply = await say(emulator, GROUP, MEMBER, "/help")
    assert "What I can do" in reply["text"]
    assert len(emulator.sent_messages(GROUP)) == 1


async def test_edited_messages_and_stickers_are_ignored_quietly(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    original = emulator.send_text(READER, READER, "/follow Japan")
    await emulator.wait_for_messages(READER, 1)
    edited = dict(
        original["message"], text="/unfollow Japan", edit_date=original["message"]["date"] + 5
    )
    emulator.add_update({"edited_message": edited})
    sticker = {k: v for k, v in original["message"].items() if k not in {"text", "entities"}} | {
        "message_id": 999,
        "sticker": {
            "file_id": "x",
            "file_unique_id": "y",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
    }
    emulator.add_update({"message": sticker})
    reply = await say(emulator, READER, READER, "/following")
    assert "Japan" in reply["text"]
    assert len(emulator.sent_messages(READER)) == 2


async def test_a_reply_refused_with_429_arrives_after_the_pause(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    """A reader who asks while Telegram floods the bot gets the answer late, not never."""
    emulator.fail_next("sendMessage", status=429, retry_after=1, chat_id=READER)
    answer = await say(emulator, READER, READER, "/help")
    assert "What I can do" in answer["text"]
    tries = [call for call in emulator.calls_of("sendMessage") if call.params["chat_id"] == READER]
    assert [call.status for call in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.0
    assert len(emulator.sent_messages(READER)) == 1
