"""Scheduled stories and the report per story, end to end: the running bot, the HTTP API,
`tagwire push`/`stories`/`story` beside it, the Bot API emulator; both backends.

A scheduled story must not show through any reader command (nor the API, nor the outbox, from
which digests are made) before its time; then it reaches every follower within 2 s of its time,
once, across a restart of the bot; and its report counts what became of each delivery.
(Several instances releasing it once: tests/e2e/test_instances.py.)"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulator import BotApiEmulator
from tests.support.commands import environment, run_tagwire
from tests.support.harness import StartBot, api_client, outbox_settled, push
from tests.support.sql import query
from tests.support.updates import follow, say, teasers

API_TOKEN = "test-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ADMIN = 5001
READER = 1001
QUIET = 1002
NEWCOMER = 1003
API_ON: dict[str, Any] = {
    "ingest_token": API_TOKEN,
    "http_port": 0,
    "admin_ids": frozenset({ADMIN}),
}
SECRET = "Embargoed Kuril treaty text"
# How late a story may reach its followers after its time.
ON_TIME = 2.0


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def story(number: int, title: str = "Ordinary Japan news", **fields: Any) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/scheduled/{number}",
        "title": title,
        "teaser": "A teaser.",
        "tags": ["Japan"],
        **fields,
    }


def teasers_of(emulator: BotApiEmulator, chat_id: int, text: str) -> list[dict[str, Any]]:
    return [message for message in teasers(emulator, chat_id) if text in message["text"]]


def arrival(emulator: BotApiEmulator, chat_id: int, text: str) -> float:
    """Wall-clock time at which the emulator took the first teaser with `text` for the chat."""
    offset = time.time() - time.monotonic()
    [first, *_] = [
        call
        for call in emulator.calls_of("sendMessage")
        if call.params.get("chat_id") == chat_id
        and text in str(call.params.get("text", ""))
        and call.status == 200
    ]
    return first.at + offset


def deliveries_of(database: Path | str, url: str) -> int:
    [(count,)] = query(
        database,
        "SELECT COUNT(*) FROM deliveries d JOIN articles a ON a.id = d.article_id WHERE a.url = ?",
        url,
    )
    return int(str(count))


def quiet_hours_around_now() -> str:
    """Quiet hours (UTC) that began an hour ago and end in two hours."""
    now = datetime.now(UTC)
    start = now - timedelta(hours=1)
    end = now + timedelta(hours=2)
    return f"{start:%H}:00-{end:%H}:00"


async def test_a_scheduled_story_shows_nowhere_before_its_time_then_reaches_everyone_once(
    emulator: BotApiEmulator, database: Path | str, start_bot: StartBot
) -> None:
    async with start_bot(**API_ON) as bot, api_client(bot) as http:
        await follow(emulator, READER, READER, "Japan")
        await follow(emulator, QUIET, QUIET, "Japan")
        await say(emulator, QUIET, QUIET, f"/quiet {quiet_hours_around_now()}")
        due = time.time() + 6
        held = story(2, SECRET, publish_at=iso(due))
        answer = await http.post("/api/articles", json=[story(1), held], headers=AUTH)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["created"], body["scheduled"]) == (2, 1)
        assert body["results"][1]["publish_at"] == iso(due)
        assert body["results"][1]["deliveries_queued"] == 0
        await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)

        # Before its time, through every way a reader (or the API) can list stories.
        replies = [
            await say(emulator, READER, READER, command)
            for command in ("/latest Japan", "/latest", "/search Kuril", "/search treaty", "/tags")
        ]
        replies.append(await say(emulator, NEWCOMER, NEWCOMER, "/follow Japan"))
        for reply in replies:
            assert SECRET not in reply["text"], reply["text"]
        assert "Ordinary Japan news" in replies[0]["text"]
        listed = (await http.get("/api/articles?tag=Japan", headers=AUTH)).json()
        assert [a["url"] for a in listed["articles"]] == [story(1)["url"]]
        tags = (await http.get("/api/tags", headers=AUTH)).json()["tags"]
        assert [(t["name"], t["story_count"]) for t in tags] == [("Japan", 1)]
        # Nothing in the outbox, where digests (and quiet hours' batches) are made from.
        assert deliveries_of(database, held["url"]) == 0
        listing = await asyncio.to_thread(
            run_tagwire, "stories", "--scheduled", env=environment(TAGWIRE_DATABASE=str(database))
        )
        assert listing.returncode == 0, listing.stderr
        assert f"{iso(due)[:19].replace('T', ' ')} UTC  {held['url']}" in listing.stdout
        assert SECRET in listing.stdout
        assert "tags: Japan" in listing.stdout
        assert time.time() < due, "the checks took too long to show anything"

        await emulator.wait_for(lambda: bool(teasers_of(emulator, READER, SECRET)), timeout=15)
        came = arrival(emulator, READER, SECRET)
        assert due <= came < due + ON_TIME
        # The reader who subscribed while it was held gets it too; the quiet chat has it
        # waiting for the end of its quiet hours.
        await emulator.wait_for(lambda: bool(teasers_of(emulator, NEWCOMER, SECRET)))
        assert arrival(emulator, NEWCOMER, SECRET) < due + ON_TIME
        assert deliveries_of(database, held["url"]) == 3
        [(held_for_quiet,)] = query(
            database,
            "SELECT COUNT(*) FROM deliveries d JOIN articles a ON a.id = d.article_id "
            "WHERE d.chat_id = ? AND a.url = ? AND d.status = 'pending' AND d.held",
            QUIET,
            held["url"],
        )
        assert held_for_quiet == 1
        # Now it is listed and found like any story.
        assert SECRET in (await say(emulator, READER, READER, "/latest Japan"))["text"]
        assert SECRET in (await say(emulator, READER, READER, "/search Kuril"))["text"]
        # Once: after a later command was answered, nothing more is on its way.
        await say(emulator, READER, READER, "/help")
    for chat_id in (READER, NEWCOMER):
        assert len(teasers_of(emulator, chat_id, SECRET)) == 1
    assert teasers_of(emulator, QUIET, SECRET) == []


async def test_held_across_a_restart_and_due_while_stopped_both_go_out_once(
    emulator: BotApiEmulator, database: Path | str, start_bot: StartBot
) -> None:
    env = environment(TAGWIRE_DATABASE=str(database))
    async with start_bot():
        await follow(emulator, READER, READER, "Japan")
        due = time.time() + 8
        pushed = await push(
            database,
            [
                story(1, "Held across a restart", publish_at=iso(due)),
                story(2, "Cancelled before its time", publish_at=iso(due)),
            ],
        )
        assert pushed.returncode == 0, pushed.stderr
        assert "2 scheduled for later" in pushed.stdout
    # An operator cancels one, and must say so twice: it is for good.
    unsure = await asyncio.to_thread(run_tagwire, "stories", "--cancel", story(2)["url"], env=env)
    assert unsure.returncode == 2
    assert "--yes" in unsure.stderr
    assert "Cancelled before its time" in unsure.stderr
    cancelled = await asyncio.to_thread(
        run_tagwire, "stories", "--cancel", story(2)["url"], "--yes", env=env
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"cancelled {story(2)['url']}")
    listing = await asyncio.to_thread(run_tagwire, "stories", "--scheduled", env=env)
    assert story(1)["url"] in listing.stdout
    assert story(2)["url"] not in listing.stdout

    async with start_bot():
        assert time.time() < due, "the restart took too long to show anything"
        await emulator.wait_for(
            lambda: bool(teasers_of(emulator, READER, "Held across a restart")), timeout=15
        )
        assert due <= arrival(emulator, READER, "Held across a restart") < due + ON_TIME
        # Due while the bot is stopped: it goes out when the bot starts.
        later = time.time() + 3
        pushed = await push(database, [story(3, "Due while stopped", publish_at=iso(later))])
        assert pushed.returncode == 0, pushed.stderr
    # The condition of the test, not a wait for a result: the bot is down past the story's time.
    await asyncio.sleep(max(0.0, later + 0.5 - time.time()))
    started = time.time()
    async with start_bot():
        await emulator.wait_for(lambda: bool(teasers_of(emulator, READER, "Due while stopped")))
        assert arrival(emulator, READER, "Due while stopped") < started + ON_TIME
        await outbox_settled(emulator, database)
        await say(emulator, READER, READER, "/help")
    texts = [message["text"] for message in teasers(emulator, READER)]
    assert sum("Held across a restart" in text for text in texts) == 1
    assert sum("Due while stopped" in text for text in texts) == 1
    assert not any("Cancelled before its time" in text for text in texts)


async def report_via_api(http: httpx.AsyncClient, story_id: int) -> dict[str, Any]:
    answer = await http.get(f"/api/articles/{story_id}/report", headers=AUTH)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def test_the_report_counts_muted_inactive_failed_and_held_chats(
    emulator: BotApiEmulator, database: Path | str, start_bot: StartBot
) -> None:
    sent_to, muting, blocked, failing, quiet = (1001, 1006), 1002, 1003, 1004, 1005
    emulator.add_user(ADMIN)
    async with start_bot(**API_ON) as bot, api_client(bot) as http:
        for reader in (*sent_to, muting, blocked, failing, quiet):
            await follow(emulator, reader, reader, "Japan")
        await say(emulator, muting, muting, "/mute Kuril")
        await say(emulator, quiet, quiet, f"/quiet {quiet_hours_around_now()}")
        emulator.block(blocked)
        emulator.fail_next(
            "sendMessage",
            status=400,
            description="Bad Request: message is too long",
            chat_id=failing,
        )
        answer = await http.post("/api/articles", json=story(1, "Kuril talks resume"), headers=AUTH)
        story_id = answer.json()["results"][0]["id"]
        await emulator.wait_for(
            lambda: all(teasers_of(emulator, reader, "Kuril talks") for reader in sent_to)
        )

        def settled() -> bool:
            [(pending,)] = query(
                database,
                "SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND NOT held",
            )
            return pending == 0

        await emulator.wait_for(settled)
        report = await report_via_api(http, story_id)
        assert report["story"]["url"] == story(1)["url"]
        assert report["scheduled"] is None
        assert (report["chats"], report["sent"], report["pending"], report["held"]) == (6, 2, 1, 1)
        assert report["skipped"] == {"muted": 1, "inactive": 1}
        assert report["failed"] == 1
        # As python-telegram-bot words Telegram's description.
        assert report["failures"] == [{"reason": "Message is too long", "count": 1}]
        assert report["half_after_seconds"] is None
        assert report["all_after_seconds"] is None
        assert report["first_sent_at"] is not None
        assert report["last_sent_at"] >= report["first_sent_at"]
        assert (await http.get("/api/articles/999999/report", headers=AUTH)).status_code == 404
        assert (await http.get("/api/articles/abc/report", headers=AUTH)).status_code == 400
        assert (await http.get(f"/api/articles/{story_id}/report")).status_code == 401

        # The same figures from the command line and in Telegram.
        printed = await asyncio.to_thread(
            run_tagwire,
            "story",
            story(1)["url"],
            env=environment(TAGWIRE_DATABASE=str(database)),
        )
        assert printed.returncode == 0, printed.stderr
        assert "For 6 chats: 2 sent, 1 pending, 2 skipped, 1 failed." in printed.stdout
        assert "Skipped: 1 for a muted word, 1 gone away" in printed.stdout
        assert "✗ Failed 1: Message is too long" in printed.stdout
        assert "Half of its chats: not yet." in printed.stdout
        told = await say(emulator, ADMIN, ADMIN, f"/story {story(1)['url']}")
        assert told["text"].startswith(f"Story {story_id}: Kuril talks resume")
        assert "For 6 chats: 2 sent, 1 pending, 2 skipped, 1 failed." in told["text"]
        assert "Waiting for quiet hours to end or for a digest: 1." in told["text"]
        unknown = await say(emulator, ADMIN, ADMIN, "/story https://news.example.com/nowhere")
        assert "No story has this URL" in unknown["text"]
        # Anyone else: there is no such command.
        stranger = await say(emulator, READER, READER, f"/story {story(1)['url']}")
        assert "Story" not in stranger["text"]
        missing = await asyncio.to_thread(
            run_tagwire,
            "story",
            "https://news.example.com/nowhere",
            env=environment(TAGWIRE_DATABASE=str(database)),
        )
        assert missing.returncode == 1
        assert "no story has the URL" in missing.stderr


async def test_a_scheduled_storys_report_says_when_and_sent_to_all_says_how_fast(
    emulator: BotApiEmulator, database: Path | str, start_bot: StartBot
) -> None:
    async with start_bot(**API_ON) as bot, api_client(bot) as http:
        for reader in (1001, 1002, 1003):
            await follow(emulator, reader, reader, "Japan")
        due = time.time() + 3
        answer = await http.post(
            "/api/articles", json=story(1, "Scheduled report", publish_at=iso(due)), headers=AUTH
        )
        story_id = answer.json()["results"][0]["id"]
        report = await report_via_api(http, story_id)
        assert report["scheduled"] == {
            "state": "held",
            "publish_at": iso(due),
            "released_at": None,
            "cancelled_at": None,
        }
        assert report["chats"] == 0
        told = await say(emulator, ADMIN, ADMIN, f"/story {story_id}")
        assert (
            f"Scheduled for {iso(due)[:19].replace('T', ' ')} UTC: held until then"
            in (told["text"])
        )
        await emulator.wait_for(
            lambda: all(teasers_of(emulator, r, "Scheduled report") for r in (1001, 1002, 1003)),
            timeout=15,
        )
        await outbox_settled(emulator, database)
        report = await report_via_api(http, story_id)
        assert report["scheduled"]["state"] == "released"
        assert (report["chats"], report["sent"]) == (3, 3)
        assert 0 <= report["half_after_seconds"] <= report["all_after_seconds"] < ON_TIME


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"publish_at": "2026-12-01T10:00:00"}, "publish_at"),
        ({"publish_at": "2999-01-01T00:00:00+00:00"}, "publish_at"),
        ({"published_at": "2999-01-01T00:00:00+00:00"}, "published_at"),
    ],
)
async def test_a_schedule_without_a_time_zone_or_years_ahead_is_refused(
    emulator: BotApiEmulator, start_bot: StartBot, fields: dict[str, str], field: str
) -> None:
    async with start_bot(**API_ON) as bot, api_client(bot) as http:
        answer = await http.post("/api/articles", json=story(1, **fields), headers=AUTH)
    [result] = answer.json()["results"]
    assert (result["status"], result["field"]) == ("rejected", field)
