from __future__ import annotations

import logging

from bot.logs import REDACTED, RedactingFilter

TOKEN = "123456789:AAEhBP0av28kjH9fTdL4KCLGrsGUk3w6Jq8"


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, message, args, exc_info)


def test_token_in_a_message_is_redacted() -> None:
    entry = record("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
    RedactingFilter([TOKEN]).filter(entry)
    assert TOKEN not in entry.getMessage()
    assert REDACTED in entry.getMessage()


def test_token_in_a_traceback_is_redacted() -> None:
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError as error:
        entry = record("boom", exc=error)
    RedactingFilter([TOKEN]).filter(entry)
    text = logging.Formatter().format(entry)
    assert TOKEN not in text
    assert "RuntimeError" in text


def test_messages_without_secrets_are_untouched() -> None:
    entry = record("hello %s", "world")
    RedactingFilter([TOKEN]).filter(entry)
    assert entry.getMessage() == "hello world"
    assert entry.args == ("world",)
