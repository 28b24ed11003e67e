"""The errors tagwire raises on purpose; each carries a message fit to show the user."""

from __future__ import annotations

from storage.models import Tag

# How a `tagwire` command ends: done; done in part (records rejected, a thing not found); refused.
EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2


class TagwireError(Exception):
    """Base of the errors that end a command with a clear answer instead of a traceback."""


class InvalidTag(TagwireError):
    """A tag that cannot be a tag: empty, too long, or made only of punctuation. `key` names
    the reason in the message table, so it can be given in the reader's language."""

    def __init__(self, message: str, key: str = "tag_reason_empty") -> None:
        super().__init__(message)
        self.key = key


class UnknownTag(TagwireError):
    """A tag no story uses and nobody follows."""

    def __init__(self, tag: str, suggestions: list[Tag]) -> None:
        super().__init__(f"unknown tag {tag!r}")
        self.tag = tag
        self.suggestions = suggestions


class InvalidArticle(TagwireError):
    """A pushed story that fails validation; `field` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TooManyTags(TagwireError):
    """A chat tried to follow more tags than it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a chat may follow at most {limit} tags")
        self.limit = limit
