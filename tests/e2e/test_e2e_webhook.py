"""Webhook mode end to end: the emulator posts updates to the bot's own HTTP server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import ALLOWED_UPDATES, StartupError, build_application, serve
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.web.webhook import DEFAULT_PATH, META_SECRET_KEY, SECRET_HEADER
from storage import open_store
from tests.support.harness import (
    TOKEN,
    StartBot,
    api_client,
    start_process,
    stop_process,
    subprocess_env,
)
from tests.support.updates import update_for
from tests.support.webhook import webhook_options, webhook_settings

READER = 1001


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {**webhook_options(), "instance_name": "web-1"}


async def stored_secret(database: Path) -> str | None:
    store = await open_store(database)
    try:
        return await store.get_meta(META_SECRET_KEY)
    finally:
        await store.close()


async def test_webhook_mode_registers_the_webhook_and_answers_updates(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    settings = bot.bot_data.require_settings()
    assert emulator.webhook == settings.webhook_url
    [call] = emulator.calls_of("setWebhook")
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    secret = await stored_secret(database)
    assert secret is not None
    assert len(secret) >= 32
    assert emulator.webhook_secret == secret
    assert TOKEN.split(":")[1] not in (settings.webhook_url or "")

    emulator.send_text(READER, READER, "/start")
    [reply] = await emulator.wait_for_messages(READER, 1)
    assert "Welcome to tagwire" in reply["text"]
    assert emulator.calls_of("getUpdates") == []
    assert emulator.webhook_deliveries[-1][1] == 200


async def test_updates_without_the_right_secret_are_403_and_ignored(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    url = bot.bot_data.require_settings().webhook_url
    assert url is not None
    emulator.add_user(1002)
    body = json.dumps(update_for(1002, "/start", 900)).encode()
    async with httpx.AsyncClient(trust_env=False) as http:
        missing = await http.post(url, content=body)
        wrong = await http.post(url, content=body, headers={SECRET_HEADER: "not-the-secret"})
        almost = await http.post(
            url, content=body, headers={SECRET_HEADER: (emulator.webhook_secret or "") + "x"}
        )
        # Then the right secret: once this one is answered, the others would have been.
        marker = await http.post(
            url,
            json=update_for(1002, "/help", 901),
            headers={SECRET_HEADER: emulator.webhook_secret or ""},
        )
    assert [missing.status_code, wrong.status_code, almost.status_code] == [403, 403, 403]
    assert marker.status_code == 200
    [answer] = await emulator.wait_for_messages(1002, 1)
    assert "What I can do" in answer["text"]
    counted = bot.bot_data.metrics.registry.get_sample_value(
        "tagwire_webhook_requests_total", {"result": "forbidden"}
    )
    assert counted == 3


async def test_an_update_with_the_right_secret_is_processed(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.add_user(1003, first_name="Direct")
    url = bot.bot_data.require_settings().webhook_url
    assert url is not None
    headers = {SECRET_HEADER: emulator.webhook_secret or ""}
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.post(url, json=update_for(1003, "/help", 901), headers=headers)
        garbage = await http.post(url, content=b"{not json", headers=headers)
    assert answer.status_code == 200
    assert garbage.status_code == 400
    [reply] = await emulator.wait_for_messages(1003, 1)
    assert "What I can do" in reply["text"]


async def test_health_says_webhook_mode_and_the_api_is_off_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    health = await client.get("/healthz")
    api = await client.post("/api/articles", json={}, headers={"Authorization": "Bearer x"})
    document = (await client.get("/openapi.json")).json()
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "bot": "running",
        "mode": "webhook",
        "instance": "web-1",
        "role": "leader",
    }
    assert api.status_code == 404
    assert "TAGWIRE_INGEST_TOKEN" in api.json()["error"]
    assert "/telegram/webhook" in document["paths"]


async def test_the_generated_secret_survives_a_restart_and_the_webhook_is_kept(
    emulator: BotApiEmulator, start_bot: StartBot
) -> None:
    async with start_bot(**webhook_options()):
        first = emulator.webhook_secret
    # Stopping leaves the webhook in place: Telegram queues updates for the next start.
    assert emulator.webhook is not None
    assert emulator.calls_of("deleteWebhook") == []
    emulator.send_text(READER, READER, "/start")
    async with start_bot(**webhook_options()):
        assert emulator.webhook_secret == first
        [reply] = await emulator.wait_for_messages(READER, 1)
    assert "Welcome" in reply["text"]


async def test_a_configured_secret_is_used_as_it_is(
    emulator: BotApiEmulator, start_bot: StartBot, database: Path
) -> None:
    async with start_bot(**webhook_options(), webhook_secret="my-own_Secret-42"):
        assert emulator.webhook_secret == "my-own_Secret-42"
        emulator.send_text(READER, READER, "/start")
        await emulator.wait_for_messages(READER, 1)
    assert await stored_secret(database) is None


async def test_back_to_long_polling_removes_the_webhook(
    emulator: BotApiEmulator, start_bot: StartBot
) -> None:
    async with start_bot(**webhook_options()):
        pass
    assert emulator.webhook is not None
    async with start_bot():
        assert emulator.webhook is None
        emulator.send_text(READER, READER, "/start")
        await emulator.wait_for_messages(READER, 1)


async def test_a_url_without_a_path_uses_the_default_path(
    emulator: BotApiEmulator, start_bot: StartBot
) -> None:
    options = webhook_options(path="")
    async with start_bot(**options) as application:
        assert emulator.webhook == options["webhook_url"]
        async with api_client(application) as http:
            answer = await http.post(DEFAULT_PATH, json={}, headers={SECRET_HEADER: "wrong"})
    assert answer.status_code == 403


async def test_a_webhook_url_with_the_token_in_it_is_refused(
    emulator: BotApiEmulator, database: Path
) -> None:
    settings = webhook_settings(emulator, database, path=f"/{TOKEN}")
    application = build_application(settings)
    with pytest.raises(StartupError, match="must not contain the bot token") as raised:
        await serve(application, asyncio.Event())
    assert TOKEN not in str(raised.value)
    assert emulator.calls_of("setWebhook") == []


async def test_a_webhook_telegram_refuses_is_a_startup_error(
    emulator: BotApiEmulator, database: Path
) -> None:
    emulator.fail_next(
        "setWebhook", status=400, description="Bad Request: bad webhook: HTTPS url must be provided"
    )
    application = build_application(webhook_settings(emulator, database))
    with pytest.raises(StartupError, match="Telegram refused the webhook"):
        await serve(application, asyncio.Event())


async def test_tagwire_run_in_webhook_mode_never_logs_the_secret(
    emulator: BotApiEmulator, database: Path, tmp_path: Path
) -> None:
    env = subprocess_env(emulator, database, **webhook_options(), log_level="DEBUG")
    log = tmp_path / "run.log"
    process = start_process(env, tmp_path, log)
    try:
        await emulator.wait_for(lambda: emulator.webhook is not None, timeout=20)
        emulator.send_text(READER, READER, "/start")
        await emulator.wait_for_messages(READER, 1)
    finally:
        code = await stop_process(process)
    output = log.read_text()
    assert code == 0, output
    assert emulator.webhook_secret
    assert emulator.webhook_secret not in output
    assert TOKEN not in output
    assert "setWebhook" in output
