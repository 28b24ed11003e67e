"""The HTTP API keeps to its own document: schemathesis reads /openapi.json from the running
bot, sends each operation a bounded number of generated requests (with the token) and checks
every answer against the document: no 500, no status the document does not declare, no body
that contradicts its schema."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from tests.support.updates import follow

API_TOKEN = "contract-ingest-token-0123456789"
# Generated requests per operation; the whole run stays well under 90 s on 2 cores.
MAX_EXAMPLES = 25
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


@pytest.fixture
def bot_options() -> dict[str, Any]:
    # The limiter has tests of its own; here it would only answer 429s.
    return {"ingest_token": API_TOKEN, "http_port": 0, "api_requests_per_minute": 1_000_000}


async def schemathesis(url: str, folder: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--header",
        f"Authorization: Bearer {API_TOKEN}",
        "--seed",
        "20261201",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=folder,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.backends("sqlite", reason="the contract is the handlers'; one backend is enough")
async def test_every_answer_of_the_api_keeps_to_its_document(
    emulator: BotApiEmulator, bot: TagwireApplication, tmp_path: Path
) -> None:
    # A story with a follower, so the reads and the report have something to show.
    await follow(emulator, 1001, 1001, "Japan")
    url = bot.bot_data.http_url
    assert url is not None
    started = time.monotonic()
    code, output = await schemathesis(url, tmp_path)
    elapsed = time.monotonic() - started
    assert code == 0, output[-12000:]
    # Every operation of the document was tried, and every generated request passed.
    assert re.search(r"Tested:\s+9\b", output), output[-3000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counted is not None, output[-3000:]
    assert counted[1] == counted[2]
    assert int(counted[1]) >= 9 * MAX_EXAMPLES
    assert elapsed < 90, f"schemathesis took {elapsed:.0f} s"
