"""/docs in a real browser: Swagger UI, served from the bot's own files, takes the token under
Authorize and calls the API with "Try it out" and "Execute"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, expect

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from tests.support.harness import api_client, bot_settings, running_bot

API_TOKEN = "docs-ingest-token-0123456789"
STORY = {"url": "https://news.example.com/docs/1", "title": "Docs", "tags": ["Japan"]}


@pytest.fixture
async def bot(emulator: BotApiEmulator, tmp_path: Path) -> AsyncIterator[TagwireApplication]:
    settings = bot_settings(emulator, tmp_path / "bot.db", ingest_token=API_TOKEN, http_port=0)
    async with running_bot(settings) as application:
        async with api_client(application) as client:
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            assert (await client.post("/api/articles", json=STORY, headers=headers)).is_success
        yield application


@pytest.fixture
async def docs_page(browser: Browser, bot: TagwireApplication) -> AsyncIterator[Page]:
    """/docs, loaded with nothing fetched from anywhere but the bot (no CDN); the test fails
    if the page logs an error or throws."""
    url = bot.bot_data.http_url
    assert url is not None
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    elsewhere: list[str] = []
    problems: list[str] = []

    async def only_the_bot(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(url).netloc:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_bot)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    await page.goto(f"{url}/docs")
    try:
        yield page
    finally:
        await context.close()
    assert elsewhere == []
    assert problems == []


async def test_docs_authorize_and_try_a_call(docs_page: Page) -> None:
    page = docs_page
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("tagwire")
    await page.locator(".auth-wrapper button.authorize").click()
    # One scheme only (bearer; the webhook's secret header is for webhook mode).
    await page.locator(".modal-ux input").fill(API_TOKEN)
    await page.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
    await page.locator(".modal-ux button.btn-done").click()

    operation = page.locator(".opblock-get").filter(has_text="/api/tags").first
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()

    answer = operation.locator(".live-responses-table .response").first
    await expect(answer.locator(".response-col_status")).to_contain_text("200")
    await expect(answer.locator(".response-col_description")).to_contain_text('"Japan"')
    # The call carried the token entered under Authorize.
    await expect(operation.locator(".curl-command")).to_contain_text(f"Bearer {API_TOKEN}")
