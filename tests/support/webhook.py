"""Webhook mode on this machine: a free local port, and the settings that make the bot serve
its webhook there (the emulator then posts updates to it instead of answering getUpdates)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from bot.emulator import BotApiEmulator
from bot.settings import Settings
from tests.support.harness import bot_settings


def free_port() -> int:
    """A local port nothing listens on (at the moment of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_options(path: str = "/telegram/webhook") -> dict[str, Any]:
    """The settings of webhook mode on a free port, the webhook at http://127.0.0.1:port{path}."""
    port = free_port()
    return {"http_port": port, "webhook_url": f"http://127.0.0.1:{port}{path}"}


def webhook_settings(
    emulator: BotApiEmulator, database: Path, path: str = "/telegram/webhook", **overrides: Any
) -> Settings:
    return bot_settings(emulator, database, **webhook_options(path), **overrides)
