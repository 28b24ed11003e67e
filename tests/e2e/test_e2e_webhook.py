"""Webhook mode end to end: the emulator posts updates to the bot's own HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import ALLOWED_UPDATES, StartupError, build_application, serve
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from bot.web.webhook import DEFAULT_PATH, META_SECRET_KEY, SECRET_HEADER
from storage.sqlite import SqliteStore
from tests.support.harness import (
    TOKEN,
    bot_settings,
    running_bot,
    start_process,
    stop_process,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

READER = 1001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(
    emulator: BotApiEmulator, database: Path, path: str = "/telegram/webhook", **overrides: Any
) -> Settings:
    port = free_port()
    return bot_settings(
        emulator,
        database,
        http_port=port,
        webhook_url=f"http://127.0.0.1:{port}{path}",
        **overrides,
    )


@pytest.fixture
async def bot(emulator: BotApiEmulator, tmp_path: Path) -> AsyncIterator[TagwireApplication]:
    async with running_bot(webhook_settings(emulator, tmp_path / "bot.db")) as application:
        yield application


async def stored_secret(database: Path) -> str | None:
    store = await SqliteStore.open(database)
    try:
        return await store.get_meta(META_SECRET_KEY)
    finally:
        await store.close()


def update_for(chat_id: int, text: str, update_id: int) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Reader"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_800_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Reader"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def test_webhook_mode_registers_the_webhook_and_answers_updates(
    emulator: BotApiEmulator, bot: TagwireApplication, tmp_path: Path
) -> None:
    settings = bot.bot_data.require_settings()
    assert emulator.webhook == settings.webhook_url
    [call] = emulator.calls_of("setWebhook")
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    secret = await stored_secret(tmp_path / "bot.db")
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
    body = json.dumps(update_for(1002, "/start", 900)).encode()
    async with httpx.AsyncClient(trust_env=False) as http:
        missing = await http.post(url, content=body)
        wrong = await http.post(url, content=body, headers={SECRET_HEADER: "not-the-secret"})
        almost = await http.post(
            url, content=body, headers={SECRET_HEADER: (emulator.webhook_secret or "") + "x"}
        )
    assert [missing.status_code, wrong.status_code, almost.status_code] == [403, 403, 403]
    await asyncio.sleep(0.3)
    assert emulator.sent_messages(1002) == []
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
    bot: TagwireApplication,
) -> None:
    base = bot.bot_data.http_url
    async with httpx.AsyncClient(base_url=base or "", trust_env=False) as http:
        health = await http.get("/healthz")
        api = await http.post("/api/articles", json={}, headers={"Authorization": "Bearer x"})
        document = (await http.get("/openapi.json")).json()
    assert health.json() == {"status": "ok", "database": "ok", "bot": "running", "mode": "webhook"}
    assert api.status_code == 404
    assert "TAGWIRE_INGEST_TOKEN" in api.json()["error"]
    assert "/telegram/webhook" in document["paths"]


async def test_the_generated_secret_survives_a_restart_and_the_webhook_is_kept(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(webhook_settings(emulator, database)):
        first = emulator.webhook_secret
    # Stopping leaves the webhook in place: Telegram queues updates for the next start.
    assert emulator.webhook is not None
    assert emulator.calls_of("deleteWebhook") == []
    emulator.send_text(READER, READER, "/start")
    async with running_bot(webhook_settings(emulator, database)):
        assert emulator.webhook_secret == first
        [reply] = await emulator.wait_for_messages(READER, 1)
    assert "Welcome" in reply["text"]


async def test_a_configured_secret_is_used_as_it_is(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = webhook_settings(emulator, tmp_path / "bot.db", webhook_secret="my-own_Secret-42")
    async with running_bot(settings):
        assert emulator.webhook_secret == "my-own_Secret-42"
        emulator.send_text(READER, READER, "/start")
        await emulator.wait_for_messages(READER, 1)
    assert await stored_secret(tmp_path / "bot.db") is None


async def test_back_to_long_polling_removes_the_webhook(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(webhook_settings(emulator, database)):
        pass
    assert emulator.webhook is not None
    async with running_bot(bot_settings(emulator, database)):
        assert emulator.webhook is None
        emulator.send_text(READER, READER, "/start")
        await emulator.wait_for_messages(READER, 1)


async def test_a_url_without_a_path_uses_the_default_path(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = webhook_settings(emulator, tmp_path / "bot.db", path="")
    async with running_bot(settings) as application:
        assert emulator.webhook == settings.webhook_url
        base = application.bot_data.http_url
        async with httpx.AsyncClient(base_url=base or "", trust_env=False) as http:
            answer = await http.post(DEFAULT_PATH, json={}, headers={SECRET_HEADER: "wrong"})
    assert answer.status_code == 403


async def test_a_webhook_url_with_the_token_in_it_is_refused(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings = webhook_settings(emulator, tmp_path / "bot.db", path=f"/{TOKEN}")
    application = build_application(settings)
    with pytest.raises(StartupError, match="must not contain the bot token") as raised:
        await serve(application, asyncio.Event())
    assert TOKEN not in str(raised.value)
    assert emulator.calls_of("setWebhook") == []


async def test_a_webhook_telegram_refuses_is_a_startup_error(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    emulator.fail_next(
        "setWebhook", status=400, description="Bad Request: bad webhook: HTTPS url must be provided"
    )
    application = build_application(webhook_settings(emulator, tmp_path / "bot.db"))
    with pytest.raises(StartupError, match="Telegram refused the webhook"):
        await serve(application, asyncio.Event())


async def test_tagwire_run_in_webhook_mode_never_logs_the_secret(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    port = free_port()
    env = subprocess_env(
        emulator,
        tmp_path / "bot.db",
        http_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        log_level="DEBUG",
    )
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
