"""`tagwire sandbox` in this process, as the page (with or without a browser) talks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.sandbox import Sandbox
from bot.settings import Settings
from tests.support.harness import EXAMPLES, FAST_SETTINGS


def sandbox_settings() -> Settings:
    """The fast settings, and nothing from the environment's settings file."""
    return Settings(_env_file=None, **FAST_SETTINGS)  # type: ignore[call-arg]


@asynccontextmanager
async def running_sandbox(folder: Path) -> AsyncIterator[Sandbox]:
    """The sandbox on a free port, with the example stories and its database in `folder`."""
    async with Sandbox(
        sandbox_settings(), port=0, database=folder / "sandbox.db", stories=EXAMPLES
    ) as running:
        yield running
