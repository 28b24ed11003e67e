"""Logging set-up that never writes the bot token (or a database password), whoever logs it."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "<redacted>"
# The password of any URL with credentials (postgresql://user:password@host/db), whether or
# not it is a known secret.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*:)[^\s/?#@]+(@)")


class RedactingFilter(logging.Filter):
    """Replaces every secret in a record's final message (and traceback) with <redacted>."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # A bot token's part after the colon is the secret: a URL-quoted token (%3A) or one
        # split in two still shows it whole.
        _, colon, tail = secret.partition(":")
        for value in (secret, tail if colon and len(tail) >= 16 else ""):
            if value and value not in self._secrets:
                self._secrets.append(value)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<2>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            redacted = self.redact(formatted)
            if redacted != formatted:
                record.exc_text = redacted
                record.exc_info = None
                record.msg = f"{record.msg}\n{record.exc_text}"
                record.exc_text = None
        return True


def redact_also(secret: str) -> None:
    """Scrub `secret` too from now on (one the bot learns while running, e.g. from the
    database), in every handler that configure_logging set up."""
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, RedactingFilter):
                log_filter.add(secret)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
