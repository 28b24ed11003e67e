"""What a tag is: its matching key, how it is shown, as a hashtag and inside a deep link."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

from bot.errors import InvalidTag

MAX_TAG_LENGTH = 64
DEEP_LINK_PREFIX = "follow_"
# Telegram's limit for the `start` parameter of a deep link.
MAX_DEEP_LINK_PAYLOAD = 64

_ZERO_WIDTH_JOINER = "\u200d"
_WHITESPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"\W+")
_ASCII_CONTROLS = re.compile("[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class TagName:
    """A tag as a person typed it (`name`) and the key that makes spellings equal (`key`)."""

    name: str
    key: str


def _clean(raw: str) -> str:
    if raw.isascii():
        # The same result, faster: ASCII has no format, surrogate or private-use characters
        # and NFKC leaves it unchanged, so only the controls go.
        return _WHITESPACE.sub(" ", _ASCII_CONTROLS.sub("", raw)).strip()
    # Drop control and format characters (zero-width spaces, bidi overrides) but keep the
    # zero-width joiner, which glues emoji sequences such as 👨‍👩‍👧 together.
    kept = (
        ch
        for ch in raw
        if ch == _ZERO_WIDTH_JOINER or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
    )
    text = unicodedata.normalize("NFKC", "".join(kept))
    return _WHITESPACE.sub(" ", text).strip()


def parse_tag(raw: str) -> TagName:
    """Normalise one tag: `japan`, `Japan`, `#Japan` and ` JAPAN ` give the same key."""
    name = _clean(raw).lstrip("#").strip()
    if not name:
        raise InvalidTag("a tag needs at least one letter, digit or emoji")
    if len(name) > MAX_TAG_LENGTH:
        raise InvalidTag(f"a tag has at most {MAX_TAG_LENGTH} characters", "tag_reason_too_long")
    if not any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in name):
        raise InvalidTag("a tag needs at least one letter, digit or emoji")
    return TagName(name=name, key=tag_key(name))


def tag_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name.casefold())


def split_tag_list(text: str) -> list[str]:
    """`Japan, Kuril Islands` is two tags; a space alone does not separate tags."""
    return [part for part in re.split(r"[,\n]", text) if part.strip()]


def hashtag(name: str) -> str | None:
    """`Kuril Islands` → `#Kuril_Islands`; None when nothing of the tag can stand in a hashtag."""
    body = _NON_WORD.sub("_", name).strip("_")
    if not body or body.isdigit():
        return None
    return f"#{body}"


def deep_link_payload(name: str) -> str | None:
    """The `start` parameter that follows `name`, or None when it does not fit in 64 characters."""
    encoded = base64.urlsafe_b64encode(name.encode("utf-8")).rstrip(b"=").decode("ascii")
    payload = DEEP_LINK_PREFIX + encoded
    return payload if len(payload) <= MAX_DEEP_LINK_PAYLOAD else None


def tag_from_deep_link(payload: str) -> str | None:
    """The tag name inside a `follow_…` start parameter; None when the payload is not one."""
    if not payload.startswith(DEEP_LINK_PREFIX):
        return None
    encoded = payload.removeprefix(DEEP_LINK_PREFIX)
    if not encoded or not re.fullmatch(r"[A-Za-z0-9_-]+", encoded):
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
