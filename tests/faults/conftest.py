"""What the fault scenarios share: the bot's database file and `tagwire run` as a child
process. Every test here is marked `e2e` and `soak` (`make soak` runs them at full size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from tests.support.faults import BotProcess, StartBotProcess
from tests.support.harness import subprocess_env
from tests.support.markers import mark_folder


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.e2e, pytest.mark.soak)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """The bot's SQLite file (in place of the root conftest's database per storage backend)."""
    return tmp_path / "bot.db"


@pytest.fixture
def start_bot_process(emulator: BotApiEmulator, database: Path, tmp_path: Path) -> StartBotProcess:
    """`await start_bot_process(**settings)`: `tagwire run` started in a child process against
    this test's emulator and database, with the fast settings and `settings`."""

    async def start(**settings: Any) -> BotProcess:
        return await BotProcess(subprocess_env(emulator, database, **settings), tmp_path).start()

    return start
