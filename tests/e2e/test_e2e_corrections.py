"""Corrections and retractions end to end (issue 16, points 2 and 3): a correction from the
API, `tagwire edit` or a push with "update": true edits every delivered teaser in place (a
photo's caption), once; a retraction deletes them, or past Telegram's 48 hours edits them into
the withdrawn note, and takes the story out of /latest, /search and the API; one made during
a fan-out sends no further copy; the admins' /retract asks first and refuses forged taps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from handlers.corrections import button_data
from tests.support.commands import environment, run_tagwire
from tests.support.harness import (
    TOKEN,
    FakeClock,
    StartBot,
    api_client,
    buttons,
    links,
    outbox_settled,
    push,
)
from tests.support.sql import query
from tests.support.updates import follow, say, tap, teaser_text, teasers

API_TOKEN = "test-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
READER = 1001
OTHER = 1002
ADMIN = 5001
PICTURE = "https://img.example.com/harbour.jpg"


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {"ingest_token": API_TOKEN, "http_port": 0, "admin_ids": frozenset({ADMIN})}


def story(slug: str, **fields: Any) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/fixes/{slug}",
        "title": f"Story {slug}",
        "teaser": "As first reported.",
        "tags": ["Japan"],
        **fields,
    }


async def publish(client: httpx.AsyncClient, *stories: dict[str, Any]) -> list[int]:
    answer = await client.post("/api/articles", json=list(stories), headers=AUTH)
    assert answer.status_code == 201, answer.text
    return [result["id"] for result in answer.json()["results"]]


def edits_settled(database: Path | str) -> bool:
    [(count,)] = query(database, "SELECT COUNT(*) FROM edits WHERE status = 'pending'")
    return int(str(count)) == 0


async def settled(emulator: BotApiEmulator, database: Path | str) -> None:
    await outbox_settled(emulator, database)  # type: ignore[arg-type]
    await emulator.wait_for(lambda: edits_settled(database), timeout=15)


def calls(emulator: BotApiEmulator, method: str, chat_id: int) -> list[Any]:
    return [c for c in emulator.calls_of(method) if c.params.get("chat_id") == chat_id]


def current(emulator: BotApiEmulator, chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """The message as the chat now shows it (edited or not); {} once deleted."""
    return emulator.messages_in(chat_id).get(message["message_id"], {})


async def test_a_correction_edits_every_delivered_teaser_once_text_and_photo(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    client: httpx.AsyncClient,
    database: Path | str,
) -> None:
    for reader in (READER, OTHER):
        await follow(emulator, reader, reader, "Japan")
    plain_id, photo_id, pushed_id = await publish(
        client, story("plain"), story("photo", image=PICTURE), story("pushed")
    )
    await emulator.wait_for(lambda: len(teasers(emulator, OTHER)) == 3)
    await settled(emulator, database)
    sent = {reader: teasers(emulator, reader) for reader in (READER, OTHER)}

    patched = await client.patch(
        f"/api/articles/{plain_id}", json={"title": "Story plain, corrected"}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["edits_queued"] == 2
    edited = await asyncio.to_thread(
        run_tagwire,
        "edit",
        story("photo")["url"],
        "--teaser",
        "Corrected: the harbour reopened on Monday.",
        env=environment(TAGWIRE_DATABASE=str(database)),
    )
    assert edited.returncode == 0, edited.stderr
    assert "2 delivered teasers queued" in edited.stdout
    pushed = await push(
        database, [{**story("pushed", title="Story pushed, updated"), "update": True}]
    )
    assert "1 corrected" in pushed.stdout, pushed.stdout + pushed.stderr
    await emulator.wait_for(
        lambda: all(
            "corrected" in teaser_text(current(emulator, r, sent[r][0]))
            and "Monday" in teaser_text(current(emulator, r, sent[r][1]))
            and "updated" in teaser_text(current(emulator, r, sent[r][2]))
            for r in (READER, OTHER)
        ),
        timeout=15,
    )
    await settled(emulator, database)
    for reader in (READER, OTHER):
        # Exactly one edit of each copy: text by editMessageText, the photo by its caption.
        assert len(calls(emulator, "editMessageText", reader)) == 2
        assert len(calls(emulator, "editMessageCaption", reader)) == 1
        assert "photo" in current(emulator, reader, sent[reader][1])
        # No new message: the teasers were edited in place.
        assert len(teasers(emulator, reader)) == 3
    report = (await client.get(f"/api/articles/{photo_id}/report", headers=AUTH)).json()
    assert report["edits"]["edited"] == 2
    assert report["edits"]["corrections"] == 1
    story_json = (await client.get(f"/api/articles/{pushed_id}", headers=AUTH)).json()
    assert story_json["title"] == "Story pushed, updated"
    # The same correction again changes nothing and edits nothing.
    again = await client.patch(
        f"/api/articles/{plain_id}", json={"title": "Story plain, corrected"}, headers=AUTH
    )
    assert again.json() == {**again.json(), "changed": False, "edits_queued": 0}
    bad = await client.patch(f"/api/articles/{plain_id}", json={"url": "x"}, headers=AUTH)
    assert bad.status_code == 400
    assert "url" in bad.json()["error"]


async def test_a_retraction_deletes_the_teasers_and_hides_the_story(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    client: httpx.AsyncClient,
    database: Path | str,
) -> None:
    await follow(emulator, READER, READER, "Japan")
    fresh, old, old_photo = await publish(
        client,
        story("fresh", title="Kuril fresh"),
        story("old", title="Kuril old"),
        story("old-photo", title="Kuril photo", image=PICTURE),
    )
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 3)
    await settled(emulator, database)
    first, second, third = teasers(emulator, READER)
    # Sent 49 hours ago, as far as Telegram knows: it refuses to delete them.
    for message in (second, third):
        emulator.age_message(READER, message["message_id"], 49 * 3600)
    for article_id in (fresh, old, old_photo):
        answer = await client.delete(f"/api/articles/{article_id}", headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert answer.json()["deletes_queued"] == 1
    await emulator.wait_for(lambda: not current(emulator, READER, first), timeout=15)
    await emulator.wait_for(
        lambda: "withdrawn" in teaser_text(current(emulator, READER, third)), timeout=15
    )
    await settled(emulator, database)
    assert "withdrawn" in current(emulator, READER, second)["text"]
    assert "photo" in current(emulator, READER, third)
    assert (await client.get(f"/api/articles/{fresh}", headers=AUTH)).status_code == 410
    assert (await client.delete(f"/api/articles/{fresh}", headers=AUTH)).status_code == 410
    patch = await client.patch(f"/api/articles/{old}", json={"title": "x"}, headers=AUTH)
    assert patch.status_code == 410
    listed = (await client.get("/api/articles", params={"tag": "Japan"}, headers=AUTH)).json()
    assert listed["articles"] == []
    latest = await say(emulator, READER, READER, "/latest Japan")
    assert "Kuril" not in latest["text"]
    found = await say(emulator, READER, READER, "/search Kuril")
    assert found["text"].startswith("No story matches")
    report = (await client.get(f"/api/articles/{old}/report", headers=AUTH)).json()
    assert (report["edits"]["noted"], report["edits"]["deleted"]) == (1, 0)


async def test_a_retraction_during_the_fan_out_sends_no_further_copy(
    emulator: BotApiEmulator, start_bot: StartBot, database: Path | str
) -> None:
    readers = list(range(3001, 3041))
    async with start_bot(
        ingest_token=API_TOKEN, http_port=0, rate_limit=10.0, private_chat_interval=0.0
    ) as application:
        for reader in readers:
            await follow(emulator, reader, reader, "Japan")
        base = application.bot_data.http_url
        assert base is not None
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            [article_id] = await publish(client, story("recalled"))
            await emulator.wait_for(
                lambda: sum(len(teasers(emulator, r)) for r in readers) >= 5, timeout=15
            )
            answer = await client.delete(f"/api/articles/{article_id}", headers=AUTH)
            assert answer.status_code == 200, answer.text
            asked = len(emulator.calls_of("sendMessage"))
            await settled(emulator, database)
            await asyncio.sleep(0.5)
        # At most the one send already on its way when the retraction was answered.
        assert len(emulator.calls_of("sendMessage")) - asked <= 1
        sent = [(r, m) for r in readers for m in teasers(emulator, r)]
        assert 5 <= len(sent) < len(readers)
        assert all(not current(emulator, r, m) for r, m in sent), "every copy sent is deleted"
        rows = query(
            database,
            "SELECT status, COUNT(*) FROM deliveries WHERE article_id = ? GROUP BY status",
            article_id,
        )
        statuses = {str(status): int(str(count)) for status, count in rows}
        assert statuses.get("pending", 0) == 0
        assert statuses["sent"] == len(sent)


async def test_retract_asks_the_admin_and_refuses_forged_or_foreign_taps(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    client: httpx.AsyncClient,
    database: Path | str,
) -> None:
    await follow(emulator, READER, READER, "Japan")
    [article_id] = await publish(client, story("asked"))
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    await settled(emulator, database)
    [teaser] = teasers(emulator, READER)
    question = await say(emulator, ADMIN, ADMIN, f"/retract {story('asked')['url']}")
    assert "cannot be undone" in question["text"]
    (confirm_label, confirm), (_, cancel) = buttons(question)
    assert confirm_label == "Retract"
    forged = confirm[:-1] + ("0" if confirm[-1] != "0" else "1")
    answer = await tap(emulator, ADMIN, ADMIN, question, forged)
    assert "not valid" in (answer["text"] or "")
    other_story = button_data(TOKEN, "y", article_id + 1)
    answer = await tap(emulator, ADMIN, ADMIN, question, other_story)
    assert "no longer exists" in (answer["text"] or "")
    answer = await tap(emulator, ADMIN, READER, question, confirm)
    assert "Only the bot's admins" in (answer["text"] or "")
    await tap(emulator, ADMIN, ADMIN, question, cancel)
    assert await client_status(client, article_id) == 200
    await tap(emulator, ADMIN, ADMIN, question, confirm)
    await emulator.wait_for(lambda: not current(emulator, READER, teaser), timeout=15)
    assert await client_status(client, article_id) == 410
    assert "Retracted" in emulator.messages_in(ADMIN)[question["message_id"]]["text"]
    unknown = await say(emulator, ADMIN, ADMIN, "/retract https://news.example.com/nothing")
    assert "No story has this URL" in unknown["text"]


async def client_status(client: httpx.AsyncClient, article_id: int) -> int:
    return (await client.get(f"/api/articles/{article_id}", headers=AUTH)).status_code


async def test_tagwire_retract_asks_for_yes_when_not_on_a_terminal(
    emulator: BotApiEmulator, bot: TagwireApplication, client: httpx.AsyncClient, database: Path
) -> None:
    await publish(client, story("cli"))
    env = environment(TAGWIRE_DATABASE=str(database))
    url = story("cli")["url"]
    refused = await asyncio.to_thread(run_tagwire, "retract", url, input="y\n", env=env)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "--yes" in refused.stderr
    done = await asyncio.to_thread(run_tagwire, "retract", url, "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"retracted {url}")
    twice = await asyncio.to_thread(run_tagwire, "retract", url, "--yes", env=env)
    assert twice.returncode == 1
    assert "already" in twice.stderr


# Stories inside a combined message (here a daily digest): the message is rendered again from
# its stories' current versions and edited once; a retracted story's line is taken out, and
# the message is deleted once none of its stories stands.

DIGEST_DAY = datetime(2030, 6, 1, tzinfo=UTC)


def digest_edits(emulator: BotApiEmulator, digest: dict[str, Any]) -> list[Any]:
    return [
        c
        for c in calls(emulator, "editMessageText", READER)
        if c.params.get("message_id") == digest["message_id"]
    ]


def not_held(database: Path | str) -> int:
    [(count,)] = query(
        database, "SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND NOT held"
    )
    return int(str(count))


async def daily_digest(
    emulator: BotApiEmulator, client: httpx.AsyncClient, database: Path | str, clock: FakeClock
) -> tuple[dict[str, Any], list[int]]:
    """READER's daily digest (08:00 UTC) of three stories, and their ids; the clock is then
    back at the real time, by which the edits count Telegram's 48 hours."""
    await follow(emulator, READER, READER, "Japan")
    panel = await say(emulator, READER, READER, "/settings")
    await tap(emulator, READER, READER, panel, "cfg:mode:daily")
    clock.set(DIGEST_DAY.replace(hour=7, minute=30))
    ids = await publish(
        client,
        story("harbour", title="Harbour reopens"),
        story("rail", title="Rail strike ends"),
        story("kuril", title="Kuril talks resume"),
    )
    await emulator.wait_for(lambda: not_held(database) == 0)
    before = len(emulator.sent_messages(READER))
    clock.set(DIGEST_DAY.replace(hour=8, second=1))
    digest = (await emulator.wait_for_messages(READER, before + 1))[before]
    await settled(emulator, database)
    clock.set(datetime.now(UTC))
    assert digest["text"].startswith("Your daily digest: 3 stories")
    assert len(links(digest)) == 3
    return digest, ids


def within_telegram_limits(message: dict[str, Any]) -> bool:
    """The edited text as Telegram stored it (the emulator parsed its HTML) fits a message."""
    return 0 < utf16_len(str(message["text"])) <= MESSAGE_LIMIT


async def test_a_correction_edits_the_digest_it_went_out_in_once(
    emulator: BotApiEmulator, start_bot: StartBot, database: Path | str
) -> None:
    clock = FakeClock(DIGEST_DAY.timestamp())
    async with (
        start_bot(clock=clock, ingest_token=API_TOKEN, http_port=0) as application,
        api_client(application) as client,
    ):
        digest, (harbour, rail, kuril) = await daily_digest(emulator, client, database, clock)
        sent = len(emulator.sent_messages(READER))
        patched = await client.patch(
            f"/api/articles/{rail}", json={"title": "Rail strike ends, corrected"}, headers=AUTH
        )
        assert patched.json()["edits_queued"] == 1
        await emulator.wait_for(
            lambda: "corrected" in current(emulator, READER, digest)["text"], timeout=15
        )
        await settled(emulator, database)
        edited = current(emulator, READER, digest)
        assert len(digest_edits(emulator, digest)) == 1
        assert edited["text"].startswith("Your daily digest: 3 stories")
        lines = [line for line in edited["text"].splitlines() if line.startswith("•")]
        assert lines == [
            "• Harbour reopens",
            "• Rail strike ends, corrected",
            "• Kuril talks resume",
        ]
        assert links(edited) == links(digest)
        assert within_telegram_limits(edited)
        # Edited in place: no new message.
        assert len(emulator.sent_messages(READER)) == sent
        report = (await client.get(f"/api/articles/{rail}/report", headers=AUTH)).json()
        assert (report["edits"]["edited"], report["edits"]["skipped"]) == (1, 0)
        for other in (harbour, kuril):
            untouched = (await client.get(f"/api/articles/{other}/report", headers=AUTH)).json()
            assert not untouched.get("edits")


async def test_a_retraction_takes_its_story_out_of_the_digest_and_the_last_deletes_it(
    emulator: BotApiEmulator, start_bot: StartBot, database: Path | str
) -> None:
    clock = FakeClock(DIGEST_DAY.timestamp())
    async with (
        start_bot(clock=clock, ingest_token=API_TOKEN, http_port=0) as application,
        api_client(application) as client,
    ):
        digest, (harbour, rail, kuril) = await daily_digest(emulator, client, database, clock)
        sent = len(emulator.sent_messages(READER))
        answer = await client.delete(f"/api/articles/{harbour}", headers=AUTH)
        assert answer.json()["deletes_queued"] == 1
        await emulator.wait_for(
            lambda: "Harbour" not in current(emulator, READER, digest)["text"], timeout=15
        )
        await settled(emulator, database)
        edited = current(emulator, READER, digest)
        assert edited["text"].startswith("Your daily digest: 2 stories")
        assert links(edited) == links(digest)[1:]
        assert within_telegram_limits(edited)
        assert len(digest_edits(emulator, digest)) == 1
        assert emulator.calls_of("deleteMessage") == []
        report = (await client.get(f"/api/articles/{harbour}/report", headers=AUTH)).json()
        assert (report["edits"]["deleted"], report["edits"]["skipped"]) == (1, 0)
        for article_id in (rail, kuril):
            answer = await client.delete(f"/api/articles/{article_id}", headers=AUTH)
            assert answer.json()["deletes_queued"] == 1
        await emulator.wait_for(lambda: not current(emulator, READER, digest), timeout=15)
        await settled(emulator, database)
        # One deletion; a second only when the last edit was queued just after the first had
        # read the message's pending edits, and Telegram then answers that it is gone.
        deletion, *again = emulator.calls_of("deleteMessage")
        assert (deletion.params["message_id"], deletion.status) == (digest["message_id"], 200)
        assert [(call.params["message_id"], call.status) for call in again] in (
            [],
            [(digest["message_id"], 400)],
        )
        assert len(emulator.sent_messages(READER)) == sent
        for article_id in (rail, kuril):
            report = (await client.get(f"/api/articles/{article_id}/report", headers=AUTH)).json()
            assert (report["edits"]["deleted"], report["edits"]["skipped"]) == (1, 0)
