"""Message entities: spans of a text, their UTF-16 offsets, and the entities Telegram finds
by itself (URLs, mentions, hashtags, commands...).

The parsers (`html_parsing`, `markdown_parsing`) produce `Span`s in Python characters;
`spans_to_entities` turns them into Telegram's MessageEntity JSON, measured in UTF-16 code
units as Telegram measures them.
"""

from __future__ import annotations

import bisect
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.answers import ApiError, JSONDict


class ParseError(Exception):
    """Markup Telegram rejects; the message is its description of what is wrong."""


@dataclass
class Span:
    """An entity with offsets in Python characters of the result text (converted at the end)."""

    type: str
    start: int
    end: int
    extra: JSONDict = field(default_factory=dict)


def byte_offset(source: str, index: int) -> int:
    """Telegram reports where markup goes wrong in UTF-8 bytes, not characters."""
    return len(source[:index].encode("utf-8", "surrogatepass"))


_TG_USER_LINK = re.compile(r"tg://user\?id=(\d+)", re.IGNORECASE)
_ALLOWED_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton", "tonsite"})


def link_span(url: str, start: int, end: int) -> Span | None:
    """A text_link (or text_mention) span, or None when Telegram would silently drop the link."""
    url = url.strip()
    mention = _TG_USER_LINK.fullmatch(url)
    if mention is not None:
        return Span("text_mention", start, end, {"user_id": int(mention.group(1))})
    normalized = normalize_url(url)
    if normalized is None:
        return None
    return Span("text_link", start, end, {"url": normalized})


def normalize_url(url: str) -> str | None:
    if not url or any(ch.isspace() for ch in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme not in _ALLOWED_LINK_SCHEMES:
        return None
    if scheme in ("tg", "ton", "tonsite"):
        return f"{scheme}://{rest}"
    parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
    host = parts.hostname or ""
    if not host or ("." not in host and host != "localhost"):
        return None
    path = parts.path or "/"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


_TLDS = (
    "com|org|net|io|dev|app|info|biz|co|me|tv|news|ru|de|uk|fr|jp|cn|in|us|eu|ua|it|es|nl|pl|"
    "br|ca|au|ch|se|no|fi|dk|at|be|cz|kz|by|tr|ir|kr|tech|online|site|xyz|ai|gg|ly|to|so"
)
_DETECTORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "url",
        re.compile(
            r"(?<![\w@.\-/])(?:(?:https?|tg|ton)://[^\s<>\"]+|www\.[^\s<>\"]+"
            rf"|(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?::\d+)?(?:/[^\s<>\"]*)?)",
            re.IGNORECASE,
        ),
    ),
    ("email", re.compile(r"(?<![\w.+\-])[\w.+\-]+@(?:[\w\-]+\.)+[a-z]{2,}\b", re.IGNORECASE)),
    (
        "bot_command",
        re.compile(r"(?<![\w/@<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])"),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w{1,256}")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{1,8}(?![\w$])")),
)
_URL_TRAILING = ".,:;!?'\")]}"
# Entities the sender set explicitly that hide their text from detection.
_OPAQUE_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


def detect_spans(text: str, existing: list[Span]) -> list[Span]:
    taken = [(s.start, s.end) for s in existing if s.type in _OPAQUE_TYPES]
    found: list[Span] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in _URL_TRAILING:
                    if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(
                        ")"
                    ):
                        break
                    end -= 1
            if kind == "hashtag" and not any(not ch.isdigit() for ch in text[start + 1 : end]):
                continue
            if end <= start or any(a < end and start < b for a, b in taken):
                continue
            taken.append((start, end))
            found.append(Span(kind, start, end))
    return found


def _utf16_prefix(text: str) -> list[int]:
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    return prefix


def utf16_length(text: str) -> int:
    """The length Telegram measures: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def spans_to_entities(
    text: str, spans: list[Span], users: dict[int, JSONDict] | None = None
) -> list[JSONDict]:
    prefix = _utf16_prefix(text)
    entities: list[JSONDict] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        offset = prefix[span.start]
        entity: JSONDict = {
            "type": span.type,
            "offset": offset,
            "length": prefix[span.end] - offset,
        }
        extra = dict(span.extra)
        user_id = extra.pop("user_id", None)
        if isinstance(user_id, int):
            known = (users or {}).get(user_id)
            entity["user"] = known or {"id": user_id, "is_bot": False, "first_name": "User"}
        entity.update(extra)
        entities.append(entity)
    return entities


def entities_to_spans(text: str, entities: Any) -> list[Span]:
    if not isinstance(entities, list):
        raise ApiError(400, "Bad Request: can't parse entities JSON object")
    prefix = _utf16_prefix(text)
    spans: list[Span] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise ApiError(400, "Bad Request: can't parse MessageEntity: object expected")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise ApiError(400, "Bad Request: can't parse MessageEntity: field type not found")
        start = bisect.bisect_left(prefix, max(offset, 0))
        end = bisect.bisect_left(prefix, max(offset + length, 0))
        extra = {k: v for k, v in entity.items() if k not in ("type", "offset", "length")}
        if end > start:
            spans.append(Span(kind, start, min(end, len(text)), extra))
    return spans
