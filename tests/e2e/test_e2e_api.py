"""The HTTP API end to end: the running bot, real HTTP requests, the Bot API emulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.app import StartupError, build_application, serve
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from bot.web.api import MAX_BODY_BYTES, OperatorApi
from bot.web.webhook import WebhookConfig
from tests.support.harness import TOKEN, StartBot, api_client, bot_settings, links
from tests.support.updates import follow, teasers

API_TOKEN = "test-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# The API on: a token, and the HTTP server on a free port.
API_ON = {"ingest_token": API_TOKEN, "http_port": 0}
READER = 1001


def story(number: int, *tags: str, **fields: Any) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/api/{number}",
        "title": f"API story {number}",
        "teaser": "Pushed over HTTP.",
        "tags": list(tags or ("Japan",)),
        **fields,
    }


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return API_ON


# Authentication


async def test_post_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/articles", json=story(1))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in answer.json()["error"]


@pytest.mark.parametrize(
    "header", ["Bearer wrong-token-0123456789", f"Bearer {API_TOKEN}x", "Bearer " + "x" * 500]
)
async def test_post_with_a_wrong_token_is_403(client: httpx.AsyncClient, header: str) -> None:
    answer = await client.post("/api/articles", json=story(1), headers={"Authorization": header})
    assert answer.status_code == 403
    assert answer.json() == {"error": "the token is wrong"}


async def test_other_schemes_are_401(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/api/articles", json=story(1), headers={"Authorization": f"Basic {API_TOKEN}"}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("path", ["/api/articles?tag=Japan", "/api/tags"])
async def test_reads_need_the_token_too(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 403


async def test_post_with_the_token_is_201(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/articles", json=story(1), headers=AUTH)
    assert answer.status_code == 201
    body = answer.json()
    assert body["created"] == 1
    assert body["results"] == [
        {
            "index": 0,
            "status": "created",
            "id": body["results"][0]["id"],
            "url": "https://news.example.com/api/1",
            "deliveries_queued": 0,
        }
    ]


# Batches and bad bodies


async def test_a_mixed_batch_keeps_the_valid_stories(client: httpx.AsyncClient) -> None:
    batch = [
        story(1),
        story(2, url="ftp://news.example.com/2"),
        story(1),
        {"url": "https://news.example.com/api/4", "title": "No tags"},
        "not an object",
        story(5, "Russia", published_at="2026-11-01T10:00:00"),
        story(6, "Russia"),
    ]
    answer = await client.post("/api/articles", json=batch, headers=AUTH)
    assert answer.status_code == 201
    body = answer.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [
        "created",
        "rejected",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert results[2]["id"] == results[0]["id"]
    assert (results[1]["field"], results[1]["reason"]) == (
        "url",
        "must start with http:// or https://",
    )
    assert (results[3]["field"], results[3]["reason"]) == ("tags", "is required")
    assert results[4]["field"] == "record"
    assert results[5]["field"] == "published_at"
    assert results[5]["url"] == "https://news.example.com/api/5"


async def test_nothing_new_is_200(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/articles", json=story(1), headers=AUTH)).status_code == 201
    again = await client.post("/api/articles", json=[story(1)], headers=AUTH)
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    rejected = await client.post("/api/articles", json={"url": "x"}, headers=AUTH)
    assert rejected.status_code == 200
    assert rejected.json()["rejected"] == 1


async def test_a_body_over_1_mib_is_413_by_its_content_length(client: httpx.AsyncClient) -> None:
    body = json.dumps([story(1, teaser="x" * (MAX_BODY_BYTES + 10))]).encode()
    answer = await client.post("/api/articles", content=body, headers=AUTH)
    assert answer.status_code == 413
    assert "larger than 1048576 bytes" in answer.json()["error"]


async def test_a_streamed_body_over_1_mib_is_413_whatever_it_declares(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'[{"url": "https://news.example.com/big", "title": "Big", "tags": ["Japan"], '
        yield b'"teaser": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}]'

    # No Content-Length: chunked transfer encoding.
    answer = await client.post("/api/articles", content=chunks(), headers=AUTH)
    assert answer.status_code == 413
    # The server is still fine and stored nothing.
    listed = await client.get("/api/articles?tag=Japan", headers=AUTH)
    assert listed.status_code == 404


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "the body is empty"),
        (b"   \n", "the body is empty"),
        (b"url=https://x", "the body is not JSON: Expecting value at line 1 column 1"),
        (b'{"url": "https://x", }', "the body is not JSON: Expecting property name"),
        (b"\xff\xfe\x00garbage", "the body is not UTF-8 text"),
        (b"42", "the body must be a story (a JSON object) or an array of stories"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
async def test_a_body_that_is_not_json_is_400_naming_the_problem(
    client: httpx.AsyncClient, body: bytes, problem: str
) -> None:
    answer = await client.post(
        "/api/articles", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert problem in answer.json()["error"]


# Stories reaching readers


async def test_a_pushed_story_reaches_its_followers_at_once(
    emulator: BotApiEmulator, start_bot: StartBot
) -> None:
    # The outbox is looked at only every 30 s: only the API's wake-up can deliver in time.
    async with start_bot(**API_ON, outbox_poll_interval=30.0) as application:
        await follow(emulator, READER, READER, "Japan")
        await follow(emulator, 1002, 1002, "Russia")
        async with api_client(application) as client:
            started = time.monotonic()
            answer = await client.post("/api/articles", json=[story(1, "Japan")], headers=AUTH)
            assert answer.json()["deliveries_queued"] == 1
            await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1, timeout=5)
            elapsed = time.monotonic() - started
    assert elapsed < 2.0
    [teaser] = teasers(emulator, READER)
    assert links(teaser) == ["https://news.example.com/api/1"]
    assert "API story 1" in teaser["text"]
    assert teasers(emulator, 1002) == []


async def test_newest_stories_of_a_tag(client: httpx.AsyncClient) -> None:
    batch = [story(n, "Japan", published_at=f"2026-11-0{n}T10:00:00+00:00") for n in range(1, 5)]
    await client.post("/api/articles", json=batch, headers=AUTH)
    answer = await client.get("/api/articles", params={"tag": "#JAPAN", "limit": 2}, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["tag"] == {"name": "Japan", "story_count": 4, "follower_count": 0}
    assert [a["url"] for a in body["articles"]] == [
        "https://news.example.com/api/4",
        "https://news.example.com/api/3",
    ]
    first = body["articles"][0]
    assert first["published_at"] == "2026-11-04T10:00:00+00:00"
    assert first["tags"] == ["Japan"]
    assert first["teaser"] == "Pushed over HTTP."


async def test_unknown_tag_is_404_with_suggestions(client: httpx.AsyncClient) -> None:
    await client.post("/api/articles", json=story(1, "Japan"), headers=AUTH)
    answer = await client.get("/api/articles", params={"tag": "Japn"}, headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["suggestions"] == ["Japan"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({}, "tag is required"),
        ({"tag": "Japan", "limit": "ten"}, "limit must be a whole number from 1 to 100"),
        ({"tag": "Japan", "limit": "0"}, "limit must be"),
        ({"tag": "Japan", "limit": "101"}, "limit must be"),
        ({"tag": "!!!"}, "tag: a tag needs at least one letter"),
    ],
)
async def test_bad_article_queries_are_400(
    client: httpx.AsyncClient, query: dict[str, str], problem: str
) -> None:
    answer = await client.get("/api/articles", params=query, headers=AUTH)
    assert answer.status_code == 400
    assert problem in answer.json()["error"]


async def test_tags_with_story_and_follower_counts(
    emulator: BotApiEmulator, bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    await follow(emulator, READER, READER, "Japan")
    await client.post(
        "/api/articles", json=[story(1, "Japan", "Russia"), story(2, "Japan")], headers=AUTH
    )
    answer = await client.get("/api/tags", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["tags"] == [
        {"name": "Japan", "story_count": 2, "follower_count": 1},
        {"name": "Russia", "story_count": 1, "follower_count": 0},
    ]
    assert (await client.get("/api/tags?limit=x", headers=AUTH)).status_code == 400


async def test_unknown_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404
    assert "openapi.json" in missing.json()["error"]
    wrong = await client.delete("/api/articles", headers=AUTH)
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "DELETE is not allowed on /api/articles"


# Health and metrics


async def test_healthz_is_200_while_the_bot_runs(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "database": "ok",
        "bot": "running",
        "mode": "polling",
        "instance": f"{socket.gethostname()}-{os.getpid()}",
        "role": "leader",
    }


async def test_healthz_is_503_when_the_database_is_gone(
    bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    services = bot.bot_data.services
    assert services is not None
    await services.store.close()
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unavailable"
    assert answer.json()["status"] == "unavailable"
    # /metrics still answers, without the outbox figures it cannot read.
    assert (await client.get("/metrics")).status_code == 200


async def test_healthz_is_503_when_polling_stopped(
    bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    assert bot.updater is not None
    await bot.updater.stop()
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["bot"] == "stopped"
    assert answer.json()["database"] == "ok"


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_metrics_count_updates_sends_failures_and_stories(
    emulator: BotApiEmulator, bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    for chat_id in (1001, 1002, 1003, 1004):
        await follow(emulator, chat_id, chat_id, "Japan")
    emulator.block(1002)
    emulator.fail_next("sendMessage", status=400, description="Bad Request: odd", chat_id=1003)
    emulator.fail_next("sendMessage", status=429, retry_after=1, chat_id=1004)
    emulator.send_text(1001, 1001, "/nonsense")
    await emulator.wait_for_messages(1001, 2)
    await client.post("/api/articles", json=[story(1), {"url": "bad"}], headers=AUTH)
    await emulator.wait_for(
        lambda: len(teasers(emulator, 1001)) == 1 and len(teasers(emulator, 1004)) == 1
    )
    registry = bot.bot_data.metrics.registry
    await emulator.wait_for(lambda: registry.get_sample_value("tagwire_deliveries_sent_total") == 2)

    # Outcomes reach the database in batches, a few milliseconds after the send.
    for _ in range(100):
        answer = await client.get("/metrics")
        samples = metric_samples(answer.text)
        if samples[("tagwire_outbox_pending", ())] == 0:
            break
        await asyncio.sleep(0.05)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert samples[("tagwire_updates_handled_total", (("command", "follow"),))] == 4
    assert samples[("tagwire_updates_handled_total", (("command", "unknown_command"),))] == 1
    assert samples[("tagwire_deliveries_sent_total", ())] == 2
    for reason, count in (("403", 1), ("400", 1), ("429", 1), ("migrated", 0), ("network", 0)):
        assert samples[("tagwire_delivery_failures_total", (("reason", reason),))] == count
    stories = "tagwire_stories_ingested_total"
    assert samples[(stories, (("result", "created"), ("source", "api")))] == 1
    assert samples[(stories, (("result", "rejected"), ("source", "api")))] == 1
    assert samples[("tagwire_outbox_pending", ())] == 0
    assert samples[("tagwire_outbox_oldest_pending_age_seconds", ())] == 0
    assert API_TOKEN not in answer.text


async def test_metrics_show_the_outbox_backlog(
    emulator: BotApiEmulator, bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    await follow(emulator, READER, READER, "Japan")
    emulator.set_offline(True)
    try:
        await client.post("/api/articles", json=story(1), headers=AUTH)
        await asyncio.sleep(1.1)
        samples = metric_samples((await client.get("/metrics")).text)
    finally:
        emulator.set_offline(False)
    assert samples[("tagwire_outbox_pending", ())] == 1
    assert samples[("tagwire_outbox_oldest_pending_age_seconds", ())] >= 1.0


def offline_settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, database=tmp_path / "x.db")  # type: ignore[call-arg]


def test_each_application_has_its_own_registry(tmp_path: Path) -> None:
    first = build_application(offline_settings(tmp_path))
    second = build_application(offline_settings(tmp_path))
    assert first.bot_data.metrics.registry is not second.bot_data.metrics.registry
    assert REGISTRY.get_sample_value("tagwire_deliveries_sent_total") is None


# OpenAPI


def routes_of(application: TagwireApplication, webhook: WebhookConfig | None) -> Iterator[APIRoute]:
    """The routes the document describes: every one but /docs and its files."""
    for route in OperatorApi(application, webhook).app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield route


async def test_openapi_describes_every_route(
    bot: TagwireApplication, client: httpx.AsyncClient
) -> None:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    routes = list(routes_of(bot, None))
    for route in routes:
        described = document["paths"][route.path]
        for method in route.methods:
            assert method.lower() in described, (route.path, method)
    assert set(document["paths"]) == {route.path for route in routes}
    post = document["paths"]["/api/articles"]["post"]
    assert post["security"] == [{"bearerAuth": []}]
    assert {"201", "200", "400", "401", "403", "413"} <= set(post["responses"])


async def test_openapi_declares_every_status_the_api_answers(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    api = [
        operation
        for path, operations in document["paths"].items()
        if path.startswith("/api/")
        for operation in operations.values()
    ]
    declared = {status for operation in api for status in operation["responses"]}
    assert {"400", "401", "403", "404", "413", "429", "503"} <= declared
    for operation in api:
        assert {"401", "403", "404", "429", "503"} <= set(operation["responses"])
        assert "422" not in operation["responses"]


async def test_openapi_takes_its_request_bodies_from_the_models(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["StoryIn"]["required"] == ["url", "title", "tags"]
    assert schemas["StoryChanges"]["additionalProperties"] is False
    patch = document["paths"]["/api/articles/{id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/StoryChanges"}


def test_openapi_describes_the_webhook_path_in_webhook_mode(tmp_path: Path) -> None:
    application = build_application(offline_settings(tmp_path))
    webhook = WebhookConfig(url="https://bot.example.com/hook", path="/hook", secret="s")
    document = OperatorApi(application, webhook).app.openapi()
    validate(document)
    assert set(document["paths"]) == {route.path for route in routes_of(application, webhook)}
    assert document["paths"]["/hook"]["post"]["security"] == [{"telegramSecret": []}]


async def test_a_parameter_out_of_bounds_is_400_not_422(client: httpx.AsyncClient) -> None:
    for path in ("/api/articles/x", "/api/articles/0/report", "/api/articles/1" + "0" * 18):
        answer = await client.get(path, headers=AUTH)
        assert answer.status_code == 400, path
        assert answer.json() == {
            "error": "the story id must be a whole number, as POST /api/articles gave it"
        }
    tags = await client.get("/api/tags", params={"limit": "10001"}, headers=AUTH)
    assert tags.json() == {"error": "limit must be a whole number from 1 to 10000"}


async def test_the_token_is_checked_before_the_parameters(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/articles")).status_code == 401
    assert (await client.get("/api/articles/x")).status_code == 401


async def test_docs_are_served_from_the_bots_own_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    assert "/openapi.json" in page.text
    assert "https://" not in page.text
    script = await client.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text


async def test_docs_can_be_turned_off(start_bot: StartBot) -> None:
    async with (
        start_bot(**API_ON, api_docs=False) as application,
        api_client(application) as client,
    ):
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/docs/static/swagger-ui.css")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200


# Starting and stopping


async def test_no_http_server_without_a_token_or_webhook(start_bot: StartBot) -> None:
    async with start_bot() as application:
        assert application.bot_data.http_url is None


async def test_a_busy_port_is_a_one_line_startup_error(
    emulator: BotApiEmulator, database: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = bot_settings(emulator, database, ingest_token=API_TOKEN, http_port=port)
        application = build_application(settings)
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve(application, asyncio.Event())
    assert application.bot_data.services is None


async def test_shutdown_stops_the_server_first_then_the_bot(
    emulator: BotApiEmulator, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.ext import Application, Updater

    from bot.web.server import LocalServer

    order: list[str] = []

    def recording(name: str, original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            order.append(name)
            return await original(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(LocalServer, "stop", recording("http", LocalServer.stop))
    monkeypatch.setattr(Updater, "stop", recording("updater", Updater.stop))
    monkeypatch.setattr(Application, "stop", recording("application", Application.stop))
    monkeypatch.setattr(Application, "shutdown", recording("shutdown", Application.shutdown))
    application = build_application(bot_settings(emulator, database, **API_ON))
    post_stop, post_shutdown = application.post_stop, application.post_shutdown
    assert post_stop is not None
    assert post_shutdown is not None

    async def record_post_stop(app: Any) -> None:
        order.append("post_stop")
        await post_stop(app)

    async def record_post_shutdown(app: Any) -> None:
        order.append("post_shutdown")
        await post_shutdown(app)

    application.post_stop = record_post_stop
    application.post_shutdown = record_post_shutdown
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, stop))
    await emulator.wait_for(lambda: application.running)
    url = application.bot_data.http_url
    stop.set()
    await asyncio.wait_for(task, 30)
    assert order[:6] == ["http", "updater", "application", "post_stop", "shutdown", "post_shutdown"]
    assert url is not None
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/healthz")


async def test_the_http_server_leaves_signal_handlers_to_the_bot(start_bot: StartBot) -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    async with start_bot(**API_ON):
        during = {signum: signal.getsignal(signum) for signum in before}
    assert during == before
