"""TAGWIRE_PAID_BROADCAST: teasers go out with allow_paid_broadcast and, unless
TAGWIRE_RATE_LIMIT says otherwise, the overall cap becomes Telegram's paid 1000 a second."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import delivery_config
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from tests.support.harness import StartBot, push


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_free_bot_keeps_the_default_rate() -> None:
    assert settings().effective_rate_limit == 25
    assert delivery_config(settings()).rate_limit == 25


def test_paid_broadcast_raises_the_default_rate_to_telegrams_ceiling() -> None:
    assert settings(paid_broadcast=True).effective_rate_limit == 1000
    assert delivery_config(settings(paid_broadcast=True)).max_in_flight == 512


def test_an_explicit_rate_limit_wins_over_paid_broadcast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGWIRE_PAID_BROADCAST", "true")
    monkeypatch.setenv("TAGWIRE_RATE_LIMIT", "300")
    assert settings().effective_rate_limit == 300
    monkeypatch.delenv("TAGWIRE_RATE_LIMIT")
    assert settings().effective_rate_limit == 1000


@pytest.mark.parametrize("paid", [False, True])
async def test_teasers_carry_allow_paid_broadcast_only_when_paid(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot, paid: bool
) -> None:
    async with start_bot(paid_broadcast=paid):
        emulator.send_text(1001, 1001, "/follow Japan")
        await emulator.wait_for_messages(1001, 1)
        result = await push(database)
        assert result.returncode == 0, result.stderr
        await emulator.wait_for(
            lambda: any("Read more" in m.get("text", "") for m in emulator.sent_messages(1001))
        )
    calls = emulator.calls_of("sendMessage")
    teasers = [c for c in calls if "Read more" in c.params.get("text", "")]
    replies = [c for c in calls if "Read more" not in c.params.get("text", "")]
    assert teasers
    assert all(c.params.get("allow_paid_broadcast") is (True if paid else None) for c in teasers)
    # Replies to commands are single messages, never paid broadcasts.
    assert all("allow_paid_broadcast" not in c.params for c in replies)
