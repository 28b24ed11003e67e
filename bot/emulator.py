"""A local stand-in for the Telegram Bot API server.

The emulator serves `/bot<token>/<method>` on 127.0.0.1 with uvicorn inside the running event
loop, answers with Telegram's JSON shapes and error descriptions, keeps the state a bot can
observe (chats, members, the bot's messages, pending updates, commands, webhook) and lets tests
inject the faults a real deployment meets: blocked users, kicked bots, migrated groups, flood
limits, gateway errors and dropped connections.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import email.parser
import email.policy
import json
import logging
import math
import random
import re
import time
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.web.server import LocalServer, Signal

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "LocalServer",
    "parse_html",
    "running_emulator",
    "utf16_length",
]

_log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Listener = Callable[[str, JSONDict], None]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

# Parameters Telegram documents as String: python-telegram-bot sends them raw, while every other
# value arrives JSON-encoded. Keeping these raw stops "123" or "true" texts from turning into
# numbers and booleans.
_STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "currency",
        "custom_emoji_id",
        "custom_title",
        "description",
        "document",
        "emoji",
        "error_message",
        "explanation",
        "file_id",
        "first_name",
        "foursquare_id",
        "foursquare_type",
        "gift_id",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "pre_checkout_query_id",
        "provider_token",
        "query",
        "question",
        "secret_token",
        "shipping_query_id",
        "short_description",
        "start_parameter",
        "sticker",
        "sticker_set_name",
        "text",
        "thumbnail",
        "title",
        "url",
        "username",
        "vcard",
        "video",
        "video_note",
        "voice",
        "web_app_query_id",
    }
)

# Without an explicit allowed_updates Telegram delivers every type except these three.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_GET_UPDATES_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_GET_UPDATES_TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_STATUS_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    420: "Flood",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_SHAPE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made and what the emulator answered.

    `status` is 0 when the emulator dropped the connection instead of answering.
    """

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _DropConnection(Exception):
    """Raised inside a handler to close the client's connection without an answer."""

    def __init__(self, *, handled: bool = False) -> None:
        super().__init__()
        # True when the request took effect and only its answer is lost.
        self.handled = handled


@dataclass(frozen=True)
class _Reply:
    """A successful result that carries Telegram's optional `description` next to it."""

    result: Any
    description: str


@dataclass
class _FailRule:
    method: str
    status: int
    description: str
    retry_after: int | None
    migrate_to_chat_id: int | None
    chat_id: int | str | None
    remaining: int


@dataclass(frozen=True)
class _Limits:
    per_second: float | None
    per_chat_interval: float | None
    group_per_minute: int | None


@dataclass(frozen=True)
class _RandomFaults:
    p429: float
    p502: float
    preset: float
    max_latency: float
    include_get_updates: bool
    lost_answer: float = 0.0
    retry_after: tuple[int, int] = (1, 1)


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    owner: int | None = None
    admins: set[int] = field(default_factory=set)
    members: set[int] = field(default_factory=set)

    def as_chat(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.title is not None:
            chat["title"] = self.title
        if self.username is not None:
            chat["username"] = self.username
        if self.first_name is not None:
            chat["first_name"] = self.first_name
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.is_forum:
            chat["is_forum"] = True
        return chat


def _tracking_protocol(registry: dict[tuple[str, int], asyncio.Transport]) -> type[H11Protocol]:
    """An h11 protocol that records each connection's transport by the client's address.

    ASGI gives an application no way to abort its connection; the emulator needs exactly that to
    make clients see a network error, so it finds the transport by `scope["client"]`.
    """

    class _TrackingH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client is not None:
                registry[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None:
                registry.pop(self.client, None)
            super().connection_lost(exc)

    return _TrackingH11Protocol


# --------------------------------------------------------------------------------------------
# Text formatting: HTML, MarkdownV2 and Markdown parsing, entity detection, UTF-16 offsets


class _ParseError(Exception):
    pass


@dataclass
class _Span:
    """An entity with offsets in Python characters of the result text (converted at the end)."""

    type: str
    start: int
    end: int
    extra: JSONDict = field(default_factory=dict)


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "tg-time",
    }
)
_HTML_SPACES = frozenset(" \t\n\r\v\f")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DEC_DIGITS = frozenset("0123456789")
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _decode_html_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decodes the character reference at `source[pos] == "&"` like Telegram does.

    Returns the character and the position after the reference, or None when `&` starts no
    reference Telegram knows (it then keeps the `&` as text).
    """
    end = pos + 1
    size = len(source)
    if end < size and source[end] == "#":
        end += 1
        value = 0
        if end < size and source[end] == "x":
            end += 1
            while end < size and source[end] in _HEX_DIGITS:
                value = value * 16 + int(source[end], 16)
                end += 1
        else:
            while end < size and source[end] in _DEC_DIGITS:
                value = value * 10 + int(source[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        if 0xD800 <= value <= 0xDFFF:
            raise _ParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        char = chr(value)
    else:
        while end < size and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _HTML_NAMED.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < size and source[end] == ";":
        end += 1
    return char, end


def _bare_ampersand(source: str, pos: int) -> _ParseError:
    return _ParseError(
        f"Character '&' at byte offset {_byte_offset(source, pos)} does not start an HTML "
        "entity; escape it as &amp;"
    )


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int
    begin: int


def parse_html(source: str, *, reject_bare_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parses Telegram-flavoured HTML into plain text and entities with UTF-16 offsets.

    Raises ValueError with Telegram's description (without the "can't parse entities" prefix)
    for markup Telegram rejects. Auto-detected entities (hashtags, URLs, ...) are not added.
    """
    try:
        text, spans = _parse_html(source, reject_bare_ampersand)
    except _ParseError as exc:
        raise ValueError(str(exc)) from None
    return text, _spans_to_entities(text, spans)


def _parse_html(source: str, reject_bare_ampersand: bool) -> tuple[str, list[_Span]]:
    out: list[str] = []
    spans: list[_Span] = []
    stack: list[_OpenTag] = []
    size = len(source)
    i = 0
    while i < size:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
            if reject_bare_ampersand:
                raise _bare_ampersand(source, i)
        if char != "<":
            out.append(char)
            i += 1
            continue
        begin = i
        if i + 1 < size and source[i + 1] == "/":
            i = _close_html_tag(source, begin, stack, out, spans)
        else:
            tag, i = _open_html_tag(source, begin, reject_bare_ampersand)
            tag.start = len(out)
            stack.append(tag)
    if stack:
        raise _ParseError(f"Can't find end tag corresponding to start tag {stack[-1].name}")
    for span in spans:
        if span.type == "code":
            span.extra.pop("language", None)
    spans.sort(key=lambda s: (s.start, -(s.end - s.start)))
    return "".join(out), spans


def _open_html_tag(source: str, begin: int, reject_bare_ampersand: bool) -> tuple[_OpenTag, int]:
    size = len(source)
    at = _byte_offset(source, begin)
    i = begin + 1
    while i < size and source[i] not in _HTML_SPACES and source[i] != ">":
        i += 1
    if i >= size:
        raise _ParseError(f"Unclosed start tag at byte offset {at}")
    name = source[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise _ParseError(f'Unsupported start tag "{name}" at byte offset {at}')
    attrs: dict[str, str] = {}
    while True:
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size:
            raise _ParseError(f"Unclosed start tag at byte offset {at}")
        if source[i] == ">":
            break
        attr_begin = i
        while i < size and source[i] not in _HTML_SPACES and source[i] not in "=>":
            i += 1
        attr = source[attr_begin:i].lower()
        if not attr:
            raise _ParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size or source[i] != "=":
            if name == "blockquote" and attr == "expandable" and i < size:
                attrs[attr] = ""
                continue
            raise _ParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {at}'
            )
        i += 1
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size:
            raise _ParseError(f'Unclosed start tag "{name}" at byte offset {at}')
        value: list[str] = []
        if source[i] in "'\"":
            quote = source[i]
            i += 1
            while i < size and source[i] != quote:
                if source[i] == "&":
                    decoded = _decode_html_entity(source, i)
                    if decoded is not None:
                        value.append(decoded[0])
                        i = decoded[1]
                        continue
                    if reject_bare_ampersand:
                        raise _bare_ampersand(source, i)
                value.append(source[i])
                i += 1
            if i < size:
                i += 1
        else:
            token_begin = i
            while i < size and ((source[i].isascii() and source[i].isalnum()) or source[i] in ".-"):
                i += 1
            value.append(source[token_begin:i].lower())
            if i < size and source[i] not in _HTML_SPACES and source[i] != ">":
                raise _ParseError(
                    "Unexpected end of name token at byte offset "
                    f"{_byte_offset(source, token_begin)}"
                )
        if i >= size:
            raise _ParseError(f"Unclosed start tag at byte offset {at}")
        attrs.setdefault(attr, "".join(value))
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    return _OpenTag(name, attrs, 0, begin), i + 1


def _close_html_tag(
    source: str, begin: int, stack: list[_OpenTag], out: list[str], spans: list[_Span]
) -> int:
    size = len(source)
    at = _byte_offset(source, begin)
    if not stack:
        raise _ParseError(f"Unexpected end tag at byte offset {at}")
    i = begin + 2
    while i < size and source[i] not in _HTML_SPACES and source[i] != ">":
        i += 1
    name = source[begin + 2 : i].lower()
    while i < size and source[i] in _HTML_SPACES:
        i += 1
    if i >= size or source[i] != ">":
        raise _ParseError(f"Unclosed end tag at byte offset {at}")
    tag = stack[-1]
    if name and name != tag.name:
        raise _ParseError(
            f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", found "</{name}>"'
        )
    stack.pop()
    start, end = tag.start, len(out)
    if end > start:
        span = _html_span(tag, start, end, out, spans)
        if span is not None:
            spans.append(span)
    return i + 1


def _html_span(
    tag: _OpenTag, start: int, end: int, out: list[str], spans: list[_Span]
) -> _Span | None:
    simple = _SIMPLE_TAG_TYPES.get(tag.name)
    if simple is not None:
        return _Span(simple, start, end)
    if tag.name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"
        return _Span(kind, start, end)
    if tag.name == "a":
        return _link_span(tag.attrs.get("href") or "".join(out[start:end]), start, end)
    if tag.name in ("code", "pre"):
        language = ""
        css_class = tag.attrs.get("class", "")
        if tag.name == "code" and css_class.startswith("language-"):
            language = css_class.removeprefix("language-")
        last = spans[-1] if spans else None
        same_range = last is not None and last.start == start and last.end == end
        if tag.name == "pre" and last is not None and same_range and last.type == "code":
            last.type = "pre"
            if not last.extra.get("language"):
                last.extra.pop("language", None)
            return None
        if tag.name == "code" and last is not None and same_range and last.type == "pre":
            if language:
                last.extra["language"] = language
            return None
        extra: JSONDict = {"language": language} if language else {}
        return _Span(tag.name, start, end, extra)
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id", "")
        if not emoji_id.isdigit() or int(emoji_id) == 0:
            raise _ParseError("Invalid custom emoji identifier specified")
        return _Span("custom_emoji", start, end, {"custom_emoji_id": emoji_id})
    if tag.name == "tg-time":
        unix = tag.attrs.get("unix", "")
        if not unix.lstrip("-").isdigit():
            raise _ParseError("Invalid Unix time specified")
        extra = {"unix_time": int(unix)}
        if tag.attrs.get("format"):
            extra["date_time_format"] = tag.attrs["format"]
        return _Span("date_time", start, end, extra)
    return None


_TG_USER_LINK = re.compile(r"tg://user\?id=(\d+)", re.IGNORECASE)
_ALLOWED_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton", "tonsite"})


def _link_span(url: str, start: int, end: int) -> _Span | None:
    """A text_link (or text_mention) span, or None when Telegram would silently drop the link."""
    url = url.strip()
    mention = _TG_USER_LINK.fullmatch(url)
    if mention is not None:
        return _Span("text_mention", start, end, {"user_id": int(mention.group(1))})
    normalized = _normalize_url(url)
    if normalized is None:
        return None
    return _Span("text_link", start, end, {"url": normalized})


def _normalize_url(url: str) -> str | None:
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


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
}


@dataclass
class _OpenMark:
    type: str
    start: int
    begin: int
    language: str = ""


def _parse_markdown_v2(source: str) -> tuple[str, list[_Span]]:
    out: list[str] = []
    spans: list[_Span] = []
    stack: list[_OpenMark] = []
    quote_start: int | None = None
    size = len(source)
    i = 0
    while i < size:
        char = source[i]
        if char == "\\" and i + 1 < size and 0 < ord(source[i + 1]) <= 126:
            out.append(source[i + 1])
            i += 2
            continue
        top = stack[-1] if stack else None
        in_code = top is not None and top.type in ("code", "pre")
        reserved = char == "`" if in_code else char in _MD2_RESERVED
        if char == ">" and not in_code and (i == 0 or source[i - 1] == "\n"):
            if quote_start is None:
                quote_start = len(out)
            i += 1
            continue
        if not reserved:
            if char == "\n" and quote_start is not None and not source.startswith(">", i + 1):
                if len(out) > quote_start:
                    spans.append(_Span("blockquote", quote_start, len(out)))
                quote_start = None
            out.append(char)
            i += 1
            continue
        closing = _md2_closing_length(source, i, top)
        if top is not None and closing:
            stack.pop()
            i += closing
            if top.type == "text_link":
                url, i = _md2_link_target(source, i, "".join(out[top.start :]))
                span = _link_span(url, top.start, len(out)) if len(out) > top.start else None
                if span is not None:
                    spans.append(span)
                continue
            if len(out) > top.start:
                extra: JSONDict = {"language": top.language} if top.language else {}
                spans.append(_Span(top.type, top.start, len(out), extra))
            continue
        begin = i
        if char == "_" and source.startswith("__", i):
            kind, i = "underline", i + 2
        elif char == "_":
            kind, i = "italic", i + 1
        elif char == "*":
            kind, i = "bold", i + 1
        elif char == "~":
            kind, i = "strikethrough", i + 1
        elif char == "|" and source.startswith("||", i):
            kind, i = "spoiler", i + 2
        elif char == "[":
            kind, i = "text_link", i + 1
        elif char == "`" and source.startswith("```", i):
            kind, i = "pre", i + 3
        elif char == "`":
            kind, i = "code", i + 1
        else:
            raise _ParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        mark = _OpenMark(kind, len(out), begin)
        if kind == "pre":
            newline = source.find("\n", i)
            closing_at = source.find("```", i)
            if newline != -1 and (closing_at == -1 or newline < closing_at):
                mark.language = source[i:newline].strip()
                i = newline + 1
            mark.start = len(out)
        stack.append(mark)
    if stack:
        top = stack[-1]
        name = _MD2_NAMES[top.type]
        raise _ParseError(
            f"Can't find end of {name} entity at byte offset {_byte_offset(source, top.begin)}"
        )
    if quote_start is not None and len(out) > quote_start:
        spans.append(_Span("blockquote", quote_start, len(out)))
    spans.sort(key=lambda s: (s.start, -(s.end - s.start)))
    return "".join(out), spans


def _md2_closing_length(source: str, i: int, top: _OpenMark | None) -> int:
    if top is None:
        return 0
    char = source[i]
    if top.type == "pre":
        return 3 if source.startswith("```", i) else 0
    closers = {
        "bold": "*",
        "italic": "_",
        "strikethrough": "~",
        "code": "`",
        "text_link": "]",
        "underline": "__",
        "spoiler": "||",
    }
    closer = closers[top.type]
    if top.type == "italic" and source.startswith("__", i):
        # "___" closes italic inside underline: the first "_" belongs to the italic entity.
        return 1
    return len(closer) if source.startswith(closer, i) and char == closer[0] else 0


def _md2_link_target(source: str, i: int, text: str) -> tuple[str, int]:
    if i >= len(source) or source[i] != "(":
        return text, i
    i += 1
    url: list[str] = []
    while i < len(source) and source[i] != ")":
        if source[i] == "\\" and i + 1 < len(source) and source[i + 1] in ")\\":
            i += 1
        url.append(source[i])
        i += 1
    if i >= len(source):
        raise _ParseError(f"Can't find end of a URL at byte offset {_byte_offset(source, i)}")
    return "".join(url), i + 1


def _parse_markdown(source: str) -> tuple[str, list[_Span]]:
    """Telegram's legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out: list[str] = []
    spans: list[_Span] = []
    size = len(source)
    i = 0
    while i < size:
        char = source[i]
        if char == "\\" and i + 1 < size and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            i += 1
            continue
        unclosed = _ParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, i)}"
        )
        start = len(out)
        if char == "[":
            close = source.find("]", i + 1)
            if close == -1:
                raise unclosed
            out.extend(source[i + 1 : close])
            i = close + 1
            url = "".join(out[start:])
            if i < size and source[i] == "(":
                end = source.find(")", i + 1)
                if end == -1:
                    raise unclosed
                url, i = source[i + 1 : end], end + 1
            span = _link_span(url, start, len(out)) if len(out) > start else None
            if span is not None:
                spans.append(span)
            continue
        if char == "`" and source.startswith("```", i):
            close = source.find("```", i + 3)
            if close == -1:
                raise unclosed
            body = source[i + 3 : close]
            language = ""
            newline = body.find("\n")
            if newline != -1 and body[:newline].strip() and " " not in body[:newline].strip():
                language, body = body[:newline].strip(), body[newline + 1 :]
            out.extend(body)
            i = close + 3
            if len(out) > start:
                extra: JSONDict = {"language": language} if language else {}
                spans.append(_Span("pre", start, len(out), extra))
            continue
        close = source.find(char, i + 1)
        if close == -1:
            raise unclosed
        out.extend(source[i + 1 : close])
        i = close + 1
        if len(out) > start:
            kind = {"*": "bold", "_": "italic", "`": "code"}[char]
            spans.append(_Span(kind, start, len(out)))
    return "".join(out), spans


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


def _detect_spans(text: str, existing: list[_Span]) -> list[_Span]:
    taken = [(s.start, s.end) for s in existing if s.type in _OPAQUE_TYPES]
    found: list[_Span] = []
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
            found.append(_Span(kind, start, end))
    return found


def _utf16_prefix(text: str) -> list[int]:
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    return prefix


def utf16_length(text: str) -> int:
    """The length Telegram measures: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _spans_to_entities(
    text: str, spans: list[_Span], users: dict[int, JSONDict] | None = None
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


def _entities_to_spans(text: str, entities: Any) -> list[_Span]:
    if not isinstance(entities, list):
        raise _ApiError(400, "Bad Request: can't parse entities JSON object")
    prefix = _utf16_prefix(text)
    spans: list[_Span] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise _ApiError(400, "Bad Request: can't parse MessageEntity: object expected")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise _ApiError(400, "Bad Request: can't parse MessageEntity: field type not found")
        start = bisect.bisect_left(prefix, max(offset, 0))
        end = bisect.bisect_left(prefix, max(offset + length, 0))
        extra = {k: v for k, v in entity.items() if k not in ("type", "offset", "length")}
        if end > start:
            spans.append(_Span(kind, start, min(end, len(text)), extra))
    return spans


def _trim(text: str, spans: list[_Span]) -> tuple[str, list[_Span]]:
    # Telegram strips leading and trailing whitespace from every message text and caption.
    stripped = text.strip(" \t\n\r\v\f")
    if stripped == text:
        return text, spans
    lead = len(text) - len(text.lstrip(" \t\n\r\v\f"))
    kept: list[_Span] = []
    for span in spans:
        start = max(span.start - lead, 0)
        end = min(span.end - lead, len(stripped))
        if end > start:
            kept.append(_Span(span.type, start, end, span.extra))
    return stripped, kept


def _format(
    raw: Any,
    parse_mode: Any,
    entities: Any,
    *,
    reject_bare_ampersand: bool,
    users: dict[int, JSONDict],
) -> tuple[str, list[JSONDict]]:
    """Turns a text parameter into Telegram's (text, entities), raising the errors it would."""
    text = "" if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
    spans: list[_Span]
    if entities is not None:
        spans = _entities_to_spans(text, entities)
    elif parse_mode is None or parse_mode == "":
        spans = []
    else:
        mode = str(parse_mode).lower()
        try:
            if mode == "html":
                text, spans = _parse_html(text, reject_bare_ampersand)
            elif mode == "markdownv2":
                text, spans = _parse_markdown_v2(text)
            elif mode == "markdown":
                text, spans = _parse_markdown(text)
            else:
                raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        except _ParseError as exc:
            raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    text, spans = _trim(text, spans)
    spans = spans + _detect_spans(text, spans)
    return text, _spans_to_entities(text, spans, users)


# --------------------------------------------------------------------------------------------
# Request parameters


def _decode_value(name: str, raw: str) -> Any:
    if name in _STRING_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: JSONDict = {}
    if not message.is_multipart():
        return params
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "file_name": filename,
                "file_size": len(data),
                "mime_type": part.get_content_type(),
            }
        else:
            params[name] = _decode_value(name, data.decode("utf-8", "replace"))
    return params


async def _read_params(request: Request) -> JSONDict:
    params: JSONDict = {
        key: _decode_value(key, value) for key, value in request.query_params.multi_items()
    }
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise _ApiError(400, "Bad Request: can't parse JSON object") from None
        if isinstance(decoded, dict):
            params.update(decoded)
    elif media_type == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:
        for key, value in urllib.parse.parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True
        ):
            params[key] = _decode_value(key, value)
    return params


def _opt_int(params: JSONDict, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _ApiError(400, f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _ApiError(400, f"Bad Request: invalid {name} specified")


def _opt_seconds(params: JSONDict, name: str) -> float:
    # Telegram takes whole seconds; fractions are accepted so tests can poll briefly.
    value = params.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return 0.0
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: invalid {name} specified") from None


def _req_int(params: JSONDict, name: str, missing: str | None = None) -> int:
    value = _opt_int(params, name)
    if value is None:
        raise _ApiError(400, missing or f"Bad Request: {name} is empty")
    return value


def _opt_str(params: JSONDict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _flag(params: JSONDict, name: str) -> bool:
    value = params.get(name)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _update_type(update: JSONDict) -> str:
    return next((key for key in update if key != "update_id"), "")


def _loopback_host(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


# --------------------------------------------------------------------------------------------
# The emulator


class BotApiEmulator:
    """A Telegram Bot API server on 127.0.0.1 that a real python-telegram-bot client can use.

    Point the client at `base_url` (python-telegram-bot appends the token). Everything the bot
    does is recorded in `calls`; everything users do is injected with `send_text`,
    `press_button` and `add_update`.
    """

    def __init__(
        self,
        *,
        token: str,
        bot_id: int = 7000000001,
        bot_username: str = "tagwire_test_bot",
        bot_first_name: str = "Tagwire",
        latency: float = 0.0,
        reject_bare_ampersand: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.latency = latency
        # Telegram keeps an `&` that starts no entity as text; rejecting it by default catches
        # texts that were never escaped, which would break on the first `<`.
        self.reject_bare_ampersand = reject_bare_ampersand

        self.calls: list[ApiCall] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.webhook: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_deliveries: list[tuple[int, int]] = []
        self.callback_answers: dict[str, JSONDict] = {}

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._deactivated: set[int] = set()
        self._kicked: set[int] = set()
        self._deleted: set[int] = set()
        self._migrated: dict[int, int] = {}

        self._bot_messages: dict[int, dict[int, JSONDict]] = {}
        self._user_messages: dict[int, dict[int, JSONDict]] = {}
        self._next_message_id: dict[int, int] = {}
        self._sent: list[JSONDict] = []
        self._callback_queries: dict[str, bool] = {}
        self._next_callback = 0

        self._pending: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._active_polls = 0

        self._webhook_max_connections = 40
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._full_commands: dict[str, list[JSONDict]] = {}

        self._fail_rules: list[_FailRule] = []
        self._limits: _Limits | None = None
        self._accepted_times: deque[float] = deque()
        self._chat_last_sent: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._faults: _RandomFaults | None = None
        self._random = random.Random()
        self._offline = False

        self._listeners: list[Listener] = []
        self._transports: dict[tuple[str, int], asyncio.Transport] = {}
        self._updates_signal = Signal()
        self._stop_signal = Signal()
        self._stopping = False
        self._server: LocalServer | None = None

        self._methods: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": self._set_my_description,
            "getmydescription": self._get_my_description,
            "setmyshortdescription": self._set_my_short_description,
            "getmyshortdescription": self._get_my_short_description,
            "setmyname": self._set_my_name,
            "getmyname": self._get_my_name,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmembercount": self._get_chat_member_count,
            "sendchataction": self._send_chat_action,
            "leavechat": self._leave_chat,
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if not _loopback_host(host):
            raise ValueError("the emulator only listens on loopback addresses")
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        server = LocalServer(app, http_protocol=_tracking_protocol(self._transports))
        await server.start(host, port)
        self._stopping = False
        self._server = server
        if self.webhook is not None:
            self._start_webhook_delivery()

    async def stop(self) -> None:
        server = self._server
        if server is None:
            return
        # Wake long polls and latency sleeps first: uvicorn waits for open requests to finish.
        self._stopping = True
        self._updates_signal.notify()
        self._stop_signal.notify()
        await self._cancel_webhook_delivery()
        try:
            await server.stop()
        finally:
            self._server = None
            self._stopping = False

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._server.url

    @property
    def base_url(self) -> str:
        """What to pass as python-telegram-bot's `base_url`; it appends the token."""
        return f"{self.url}/bot"

    @property
    def api_url(self) -> str:
        """The full prefix of method URLs, token included: f"{api_url}/getMe"."""
        return f"{self.base_url}{self.token}"

    @property
    def polling(self) -> bool:
        """True while a getUpdates request is waiting for updates."""
        return self._active_polls > 0

    # ---------------------------------------------------------------- users and chats

    @property
    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Reader",
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> JSONDict:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is not None:
            chat.first_name, chat.last_name, chat.username = first_name, last_name, username
        return dict(user)

    def add_group(
        self,
        chat_id: int,
        *,
        title: str = "Group",
        supergroup: bool = False,
        admins: Iterable[int] = (),
        members: Iterable[int] = (),
        is_forum: bool = False,
        owner: int | None = None,
        username: str | None = None,
    ) -> JSONDict:
        """Adds a group the bot is a member of. Put `bot_id` in `admins` to make it an admin."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        supergroup = supergroup or is_forum or username is not None
        if supergroup and not str(chat_id).startswith("-100"):
            raise ValueError("supergroup ids look like -100xxxxxxxxxx")
        chat = _Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=is_forum,
            owner=owner,
            admins=set(admins),
            members=set(members),
        )
        self._register_chat(chat)
        return chat.as_chat()

    def add_channel(
        self,
        chat_id: int,
        *,
        title: str,
        username: str | None = None,
        admins: Iterable[int] = (),
        owner: int | None = None,
    ) -> JSONDict:
        """Adds a channel; the bot is one of its administrators and may post."""
        if not str(chat_id).startswith("-100"):
            raise ValueError("channel ids look like -100xxxxxxxxxx")
        chat = _Chat(
            id=chat_id,
            type="channel",
            title=title,
            username=username,
            owner=owner,
            admins={*admins, self.bot_id},
        )
        self._register_chat(chat)
        return chat.as_chat()

    def chat(self, chat_id: int) -> JSONDict | None:
        """The Chat object the emulator would put in messages, or None for an unknown chat."""
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.as_chat()

    def _register_chat(self, chat: _Chat) -> None:
        for user_id in {*chat.admins, *chat.members, *([chat.owner] if chat.owner else [])}:
            if user_id != self.bot_id and user_id not in self._users:
                self.add_user(user_id)
        self._chats[chat.id] = chat
        self._deleted.discard(chat.id)
        self._kicked.discard(chat.id)

    def _ensure_user(self, user_id: int) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            self.add_user(user_id)
            user = self._users[user_id]
        return user

    def _private_chat(self, user_id: int) -> _Chat:
        chat = self._chats.get(user_id)
        if chat is None:
            user = self._ensure_user(user_id)
            chat = _Chat(
                id=user_id,
                type="private",
                first_name=user["first_name"],
                last_name=user.get("last_name"),
                username=user.get("username"),
            )
            self._chats[user_id] = chat
        return chat

    def _chat_for_user_message(self, chat_id: int, user_id: int) -> _Chat:
        if chat_id > 0:
            if chat_id != user_id:
                raise ValueError("a private chat's id is the user's id")
            # Writing to a bot is how a user unblocks it.
            self._blocked.discard(user_id)
            return self._private_chat(user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            supergroup = str(chat_id).startswith("-100")
            self.add_group(chat_id, title="Group", supergroup=supergroup)
            chat = self._chats[chat_id]
        if chat.type != "channel" and user_id not in chat.admins and user_id != chat.owner:
            chat.members.add(user_id)
        return chat

    # ---------------------------------------------------------------- updates

    def add_update(self, payload: JSONDict) -> JSONDict:
        """Queues any update body; assigns `update_id` when it is missing.

        Like Telegram, an update of a type the bot's allowed_updates exclude (by default
        chat_member, message_reaction and message_reaction_count) is never queued.
        """
        update = dict(payload)
        update_id = update.get("update_id")
        if isinstance(update_id, int):
            self._next_update_id = max(self._next_update_id, update_id + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        if not self._wanted(update):
            return update
        self._pending.append(update)
        self._updates_signal.notify()
        self._emit("update", update)
        return update

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user types `text` in a chat; returns the Update. Commands get a bot_command entity.

        In a channel the text arrives as a channel_post signed by the channel, not the user.
        """
        user = self._ensure_user(user_id)
        chat = self._chat_for_user_message(chat_id, user_id)
        message: JSONDict = {
            "message_id": self._take_message_id(chat.id),
            "from": dict(user),
            "chat": chat.as_chat(),
            "date": int(time.time()),
            "text": text,
        }
        if chat.type == "channel":
            del message["from"]
            message["sender_chat"] = chat.as_chat()
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if reply_to_message_id is not None:
            replied = self._find_message(chat.id, reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        entities = _spans_to_entities(text, _detect_spans(text, []))
        if entities:
            message["entities"] = entities
        self._user_messages.setdefault(chat.id, {})[message["message_id"]] = message
        kind = "channel_post" if chat.type == "channel" else "message"
        return self.add_update({kind: message})

    def press_button(self, chat_id: int, user_id: int, message_id: int, data: str) -> JSONDict:
        """A user presses an inline button with callback `data` under the bot's message."""
        user = self._ensure_user(user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chat_for_user_message(chat_id, user_id)
        elif chat.type != "private" and user_id not in chat.admins and user_id != chat.owner:
            chat.members.add(user_id)
        message = self._bot_messages.get(chat_id, {}).get(message_id)
        if message is None:
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat.as_chat(),
                "from": self.bot_user,
            }
        self._next_callback += 1
        query_id = str(4_000_000_000_000_000_000 + self._next_callback * 7919)
        self._callback_queries[query_id] = False
        query: JSONDict = {
            "id": query_id,
            "from": dict(user),
            "message": message,
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**19),
            "data": data,
        }
        return self.add_update({"callback_query": query})

    def set_bot_status(
        self,
        chat_id: int,
        by_user_id: int,
        new_status: str,
        *,
        old_status: str = "left",
    ) -> JSONDict:
        """Queues a my_chat_member update (the bot added, promoted, removed or blocked).

        "kicked" also kicks (groups) or blocks (private chats); "member" or "administrator"
        lifts that again.
        """
        user = self._ensure_user(by_user_id)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = (
                self._private_chat(chat_id)
                if chat_id > 0
                else self._chat_for_user_message(chat_id, by_user_id)
            )
        if new_status == "kicked":
            (self._blocked if chat.type == "private" else self._kicked).add(chat_id)
        elif new_status in ("member", "administrator"):
            self._blocked.discard(chat_id)
            self._kicked.discard(chat_id)
            if new_status == "administrator":
                chat.admins.add(self.bot_id)
            else:
                chat.admins.discard(self.bot_id)
        update = {
            "my_chat_member": {
                "chat": chat.as_chat(),
                "from": dict(user),
                "date": int(time.time()),
                "old_chat_member": self._member_dict(chat, self.bot_id, old_status),
                "new_chat_member": self._member_dict(chat, self.bot_id, new_status),
            }
        }
        return self.add_update(update)

    def pending_updates(self) -> list[JSONDict]:
        return list(self._pending)

    def _take_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _find_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        found = self._bot_messages.get(chat_id, {}).get(message_id)
        return found or self._user_messages.get(chat_id, {}).get(message_id)

    # ---------------------------------------------------------------- fault injection

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends to the chat answer 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends answer 403 "user is deactivated"."""
        self._deactivated.add(user_id)

    def kick(self, chat_id: int) -> None:
        """The bot was removed from the group or channel: every call about it answers 403."""
        if chat_id > 0:
            self.block(chat_id)
        else:
            self._kicked.add(chat_id)

    def unkick(self, chat_id: int) -> None:
        self._kicked.discard(chat_id)

    def delete_chat(self, chat_id: int) -> None:
        """The chat no longer exists: calls answer 400 "chat not found"."""
        self._deleted.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int, *, notify: bool = False) -> None:
        """The group became the supergroup `new_chat_id`; the old id answers 400 with
        `migrate_to_chat_id`. With `notify`, queues the two service messages Telegram sends."""
        if not str(new_chat_id).startswith("-100"):
            raise ValueError("supergroup ids look like -100xxxxxxxxxx")
        old = self._chats.get(chat_id)
        if new_chat_id not in self._chats:
            self._chats[new_chat_id] = _Chat(
                id=new_chat_id,
                type="supergroup",
                title=old.title if old else "Group",
                owner=old.owner if old else None,
                admins=set(old.admins) if old else set(),
                members=set(old.members) if old else set(),
            )
        self._migrated[chat_id] = new_chat_id
        if notify:
            now = int(time.time())
            new = self._chats[new_chat_id]
            old_chat = old.as_chat() if old else {"id": chat_id, "type": "group", "title": "Group"}
            actor = next(iter(sorted({*new.admins, *new.members} - {self.bot_id})), None)
            sender = self._users.get(actor) if actor is not None else None
            first: JSONDict = {
                "message_id": self._take_message_id(chat_id),
                "date": now,
                "chat": old_chat,
                "migrate_to_chat_id": new_chat_id,
            }
            second: JSONDict = {
                "message_id": self._take_message_id(new_chat_id),
                "date": now,
                "chat": new.as_chat(),
                "sender_chat": new.as_chat(),
                "migrate_from_chat_id": chat_id,
            }
            if sender is not None:
                first["from"] = dict(sender)
                second["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
            self.add_update({"message": first})
            self.add_update({"message": second})

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> None:
        """The next `count` calls of `method` (optionally only about `chat_id`) fail.

        An empty description picks Telegram's usual one for the status; 429 answers carry
        `retry_after` (default 1); status 0 drops the connection instead of answering.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        self._fail_rules.append(
            _FailRule(
                method=method.lower(),
                status=status,
                description=description,
                retry_after=retry_after,
                migrate_to_chat_id=migrate_to_chat_id,
                chat_id=chat_id,
                remaining=count,
            )
        )

    def clear_faults(self) -> None:
        """Forgets fail_next rules, random faults, flood limits and offline mode."""
        self._fail_rules.clear()
        self._faults = None
        self._limits = None
        self._offline = False

    def enforce_limits(
        self,
        *,
        per_second: float | None = 30,
        per_chat_interval: float | None = 1.0,
        group_per_minute: int | None = 20,
    ) -> None:
        """Telegram's flood limits for sendMessage/sendPhoto; beyond them the answer is 429.

        `per_chat_interval` applies to private chats, `group_per_minute` to groups and channels,
        `per_second` to all messages together. Only accepted messages count.
        """
        if per_second is None and per_chat_interval is None and group_per_minute is None:
            self._limits = None
            return
        self._limits = _Limits(per_second, per_chat_interval, group_per_minute)

    def set_random_faults(
        self,
        *,
        p429: float = 0,
        p502: float = 0,
        preset: float = 0,
        max_latency: float = 0,
        seed: int | None = None,
        include_get_updates: bool = False,
        lost_answer: float = 0,
        retry_after: tuple[int, int] = (1, 1),
    ) -> None:
        """Random 429s, 502s, dropped connections (`preset`) and extra latency for soak tests.

        `lost_answer`: the request takes effect (a message is sent) but the connection drops
        before the answer, as when a reset hits on the way back; such calls are recorded with
        status 0 and `{"answer_lost": True}`. A random 429 asks to retry after a whole number
        of seconds drawn from `retry_after` (inclusive). getUpdates is spared unless
        `include_get_updates`, so polling keeps its rhythm.
        """
        for name, value in (
            ("p429", p429),
            ("p502", p502),
            ("preset", preset),
            ("lost_answer", lost_answer),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability between 0 and 1")
        if not 1 <= retry_after[0] <= retry_after[1]:
            raise ValueError("retry_after is a range of whole seconds, at least 1")
        self._random = random.Random(seed)
        if not (p429 or p502 or preset or max_latency or lost_answer):
            self._faults = None
            return
        self._faults = _RandomFaults(
            p429, p502, preset, max_latency, include_get_updates, lost_answer, retry_after
        )

    def set_offline(self, offline: bool) -> None:
        """While offline every request gets its connection dropped, as if Telegram were down.

        A getUpdates already waiting loses its connection too.
        """
        self._offline = offline
        if offline:
            self._updates_signal.notify()

    def is_blocked(self, chat_id: int) -> bool:
        """True while the user of this private chat has the bot blocked."""
        return chat_id in self._blocked

    def is_kicked(self, chat_id: int) -> bool:
        """True while the bot is out of this group or channel."""
        return chat_id in self._kicked

    @property
    def limits_enforced(self) -> bool:
        """True while enforce_limits() makes sends beyond Telegram's flood limits answer 429."""
        return self._limits is not None

    # ---------------------------------------------------------------- records

    def calls_of(self, method: str) -> list[ApiCall]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Messages the bot sent successfully (as answered at the time), oldest first."""
        if chat_id is None:
            return list(self._sent)
        return [message for message in self._sent if message["chat"]["id"] == chat_id]

    def messages_in(self, chat_id: int) -> dict[int, JSONDict]:
        """The bot's messages in a chat as they are now (edits applied, deletions removed)."""
        return dict(self._bot_messages.get(chat_id, {}))

    def reply_texts(self, chat_id: int) -> list[str]:
        return [
            str(message.get("text", message.get("caption", "")))
            for message in self.sent_messages(chat_id)
        ]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for polling local state, not I/O
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"condition not met within {timeout:g}s; {self._describe_recent_calls()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for polling local state, not I/O
    ) -> list[JSONDict]:
        def enough() -> bool:
            return sum(1 for m in self._sent if m["chat"]["id"] == chat_id) >= count

        try:
            await self.wait_for(enough, timeout)
        except TimeoutError:
            have = len(self.sent_messages(chat_id))
            raise TimeoutError(
                f"expected {count} message(s) in chat {chat_id} within {timeout:g}s, got {have}; "
                f"{self._describe_recent_calls()}"
            ) from None
        return self.sent_messages(chat_id)

    def _describe_recent_calls(self, limit: int = 15) -> str:
        recent = self.calls[-limit:]
        if not recent:
            return "the bot made no API calls"
        lines = [f"last {len(recent)} of {len(self.calls)} call(s):"]
        for call in recent:
            params = json.dumps(call.params, ensure_ascii=False, default=str)
            if len(params) > 160:
                params = params[:157] + "..."
            outcome = "dropped" if call.status == 0 else str(call.status)
            if call.status not in (0, 200):
                outcome += f" {call.response.get('description', '')}"
            lines.append(f"  {call.method} {params} -> {outcome}")
        return "\n".join(lines)

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Calls `callback(kind, payload)` synchronously for every event; returns unsubscribe.

        Kinds: "call" (an ApiCall as a dict), "update" (a queued update) and "webhook"
        ({"update_id", "status"} for each delivery attempt).
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, payload: JSONDict) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, payload)
            except Exception:
                _log.exception("an emulator listener failed on %s", kind)

    def _record(self, call: ApiCall) -> None:
        # Long polls finish late; keeping `calls` in arrival order makes it read like a log.
        bisect.insort(self.calls, call, key=lambda c: c.at)
        if self._listeners:
            self._emit("call", asdict(call))

    # ---------------------------------------------------------------- HTTP

    async def _not_found(self, request: Request) -> Response:
        return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    async def _endpoint(self, request: Request) -> Response:
        arrived = time.monotonic()
        method = str(request.path_params["method"])
        token = str(request.path_params["token"])
        params: JSONDict = {}
        try:
            params = await _read_params(request)
            result = await self._dispatch(token, method.lower(), params)
        except _DropConnection as drop:
            self._record(
                ApiCall(method, params, 0, {"answer_lost": True} if drop.handled else {}, arrived)
            )
            await self._drop(request)
            return Response(status_code=500)
        except _ApiError as error:
            status, body = error.status, error.body()
        except Exception:
            _log.exception("the emulator failed on %s", method)
            status = 500
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        else:
            status = 200
            if isinstance(result, _Reply):
                body = {"ok": True, "result": result.result, "description": result.description}
            else:
                body = {"ok": True, "result": result}
        self._record(ApiCall(method, params, status, body, arrived))
        return _json_response(status, body)

    async def _drop(self, request: Request) -> None:
        client = request.scope.get("client")
        transport = self._transports.get(tuple(client)) if client else None
        if transport is None:
            return
        transport.abort()
        # Returning before uvicorn notices the disconnect would make it log and send a 500.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while (await request.receive())["type"] != "http.disconnect":
                    pass

    async def _dispatch(self, token: str, method: str, params: JSONDict) -> Any:
        if self._offline:
            raise _DropConnection
        if token != self.token:
            if _TOKEN_SHAPE.fullmatch(token):
                raise _ApiError(401, "Unauthorized")
            raise _ApiError(404, "Not Found")
        handler = self._methods.get(method)
        if handler is None:
            raise _ApiError(404, "Not Found: method not found")
        faults = self._faults
        spared = method == "getupdates" and (faults is None or not faults.include_get_updates)
        if method != "getupdates":
            await self._sleep(self.latency)
            if self._offline:
                raise _DropConnection
        if faults is not None and not spared:
            if faults.max_latency > 0:
                await self._sleep(self._random.uniform(0, faults.max_latency))
            roll = self._random.random()
            if roll < faults.preset:
                raise _DropConnection
            if roll < faults.preset + faults.p502:
                raise _ApiError(502, "Bad Gateway")
            if roll < faults.preset + faults.p502 + faults.p429:
                low, high = faults.retry_after
                wait = low if low == high else self._random.randint(low, high)
                raise _ApiError(
                    429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                )
        self._apply_fail_rules(method, params)
        result = await handler(params)
        lose = faults is not None and not spared and faults.lost_answer > 0
        if lose and faults is not None and self._random.random() < faults.lost_answer:
            raise _DropConnection(handled=True)
        return result

    def _apply_fail_rules(self, method: str, params: JSONDict) -> None:
        for rule in self._fail_rules:
            if rule.method != method:
                continue
            if rule.chat_id is not None and params.get("chat_id") != rule.chat_id:
                continue
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._fail_rules.remove(rule)
            if rule.status == 0:
                raise _DropConnection
            parameters: JSONDict = {}
            description = rule.description or _STATUS_DESCRIPTIONS.get(rule.status, "Error")
            if rule.status == 429:
                retry_after = rule.retry_after if rule.retry_after is not None else 1
                parameters["retry_after"] = retry_after
                description = rule.description or f"Too Many Requests: retry after {retry_after}"
            elif rule.retry_after is not None:
                parameters["retry_after"] = rule.retry_after
            if rule.migrate_to_chat_id is not None:
                parameters["migrate_to_chat_id"] = rule.migrate_to_chat_id
            raise _ApiError(rule.status, description, parameters or None)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0 and not self._stopping:
            await self._stop_signal.wait(seconds)

    # ---------------------------------------------------------------- chat resolution

    def _resolve_chat_id(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise _ApiError(400, "Bad Request: chat not found")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            text = raw.strip()
            if re.fullmatch(r"-?\d+", text):
                return int(text)
            if text.startswith("@"):
                wanted = text[1:].lower()
                for chat in self._chats.values():
                    if chat.username is not None and chat.username.lower() == wanted:
                        return chat.id
        raise _ApiError(400, "Bad Request: chat not found")

    def _chat_for(self, params: JSONDict, *, sending: bool) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        chat_id = self._resolve_chat_id(raw)
        if chat_id in self._deleted:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self._migrated:
            raise _ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        chat = self._chats.get(chat_id)
        if chat is None and chat_id in self._users:
            chat = self._private_chat(chat_id)
        if chat is None:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self._kicked:
            raise _ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if sending and chat.type == "private":
            if chat_id in self._deactivated:
                raise _ApiError(403, "Forbidden: user is deactivated")
            if chat_id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    # ---------------------------------------------------------------- methods: basics

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ---------------------------------------------------------------- methods: updates

    def _wanted(self, update: JSONDict) -> bool:
        kind = _update_type(update)
        allowed = self._allowed_updates
        return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _ApiError(409, _GET_UPDATES_WEBHOOK_CONFLICT)
        offset = _opt_int(params, "offset") or 0
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = _opt_seconds(params, "timeout")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        self._poll_generation += 1
        generation = self._poll_generation
        # A newer getUpdates ends an older one that is still waiting, as on Telegram.
        self._updates_signal.notify()
        self._confirm(offset)
        deadline = time.monotonic() + timeout
        self._active_polls += 1
        try:
            while True:
                batch = self._pending[:limit]
                if batch or self._stopping:
                    return batch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                await self._updates_signal.wait(remaining)
                if self._offline:
                    raise _DropConnection
                if self._poll_generation != generation:
                    raise _ApiError(409, _GET_UPDATES_TERMINATED)
                if self.webhook is not None:
                    raise _ApiError(409, _GET_UPDATES_WEBHOOK_CONFLICT)
        finally:
            self._active_polls -= 1

    async def _set_webhook(self, params: JSONDict) -> _Reply:
        url = _opt_str(params, "url") or ""
        if not url:
            return await self._delete_webhook(params)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if not _loopback_host(parts.hostname):
            # The emulator never talks to anything but this machine.
            raise _ApiError(
                400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
            )
        secret = _opt_str(params, "secret_token")
        if secret is not None and not _SECRET_TOKEN_SHAPE.fullmatch(secret):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = _opt_int(params, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise _ApiError(400, "Bad Request: bad webhook: invalid max_connections")
        if _flag(params, "drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        unchanged = self.webhook == url and self.webhook_secret == secret
        self.webhook, self.webhook_secret = url, secret
        self._webhook_max_connections = max_connections or 40
        self._webhook_last_error = None
        # Wakes a waiting getUpdates so it answers 409 like Telegram.
        self._updates_signal.notify()
        await self._cancel_webhook_delivery()
        self._start_webhook_delivery()
        return _Reply(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def _delete_webhook(self, params: JSONDict) -> _Reply:
        if _flag(params, "drop_pending_updates"):
            self._pending.clear()
        was_set = self.webhook is not None
        self.webhook = self.webhook_secret = None
        self._webhook_last_error = None
        await self._cancel_webhook_delivery()
        return _Reply(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self._webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _start_webhook_delivery(self) -> None:
        self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())

    async def _cancel_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _deliver_webhooks(self) -> None:
        delay = 0.05
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
            while not self._stopping and self.webhook is not None:
                pending = self._pending
                if not pending:
                    await self._updates_signal.wait(None)
                    continue
                update = pending[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook_secret is not None:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                error = ""
                try:
                    response = await client.post(
                        self.webhook, content=json.dumps(update).encode(), headers=headers
                    )
                    status = response.status_code
                    error = f"Wrong response from the webhook: {status} {response.reason_phrase}"
                except httpx.HTTPError as exc:
                    status = 0
                    error = f"Connection failed: {exc.__class__.__name__}"
                self.webhook_deliveries.append((int(update["update_id"]), status))
                self._emit("webhook", {"update_id": update["update_id"], "status": status})
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError):
                        self._pending.remove(update)
                    delay = 0.05
                    continue
                self._webhook_last_error = (int(time.time()), error)
                await self._sleep(delay)
                delay = min(delay * 2, 1.0)

    # ---------------------------------------------------------------- methods: messages

    def _check_markup(self, params: JSONDict) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            # Reply keyboards and keyboard removals are not part of the returned Message.
            return None
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                "InlineKeyboardButton must be an Object",
            )
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _ApiError(400, "Bad Request: can't parse inline keyboard button: text")
                if len(button) < 2:
                    raise _ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and (not isinstance(url, str) or _normalize_url(url) is None):
                    raise _ApiError(400, "Bad Request: BUTTON_URL_INVALID")
        return markup

    def _check_limits(self, chat: _Chat) -> None:
        limits = self._limits
        if limits is None:
            return
        now = time.monotonic()
        waits: list[float] = []
        if limits.per_second is not None:
            while self._accepted_times and self._accepted_times[0] <= now - 1.0:
                self._accepted_times.popleft()
            if len(self._accepted_times) >= limits.per_second:
                waits.append(self._accepted_times[0] + 1.0 - now)
        if chat.type == "private" and limits.per_chat_interval is not None:
            last = self._chat_last_sent.get(chat.id)
            if last is not None and now - last < limits.per_chat_interval:
                waits.append(last + limits.per_chat_interval - now)
        if chat.type != "private" and limits.group_per_minute is not None:
            sent = self._group_sent.setdefault(chat.id, deque())
            while sent and sent[0] <= now - 60.0:
                sent.popleft()
            if len(sent) >= limits.group_per_minute:
                waits.append(sent[0] + 60.0 - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _count_sent(self, chat: _Chat) -> None:
        now = time.monotonic()
        self._accepted_times.append(now)
        self._chat_last_sent[chat.id] = now
        if chat.type != "private":
            self._group_sent.setdefault(chat.id, deque()).append(now)

    def _new_message(self, chat: _Chat, params: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self._take_message_id(chat.id),
            "date": int(time.time()),
            "chat": chat.as_chat(),
        }
        if chat.type == "channel":
            message["sender_chat"] = chat.as_chat()
        else:
            message["from"] = self.bot_user
        thread_id = _opt_int(params, "message_thread_id")
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        reply_to = params.get("reply_parameters")
        reply_id = (
            _opt_int(reply_to, "message_id")
            if isinstance(reply_to, dict)
            else _opt_int(params, "reply_to_message_id")
        )
        if reply_id is not None:
            replied = self._find_message(chat.id, reply_id)
            lenient = _flag(params, "allow_sending_without_reply") or (
                isinstance(reply_to, dict) and reply_to.get("allow_sending_without_reply") is True
            )
            if replied is None and not lenient:
                raise _ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
        if _flag(params, "protect_content"):
            message["has_protected_content"] = True
        return message

    def _store_sent(self, chat: _Chat, message: JSONDict) -> None:
        self._bot_messages.setdefault(chat.id, {})[message["message_id"]] = message
        self._sent.append(message)
        self._count_sent(chat)

    def _format_text(
        self, params: JSONDict, *, for_edit: bool = False
    ) -> tuple[str, list[JSONDict]]:
        raw = params.get("text")
        if raw is None or raw == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        text, entities = _format(
            raw,
            params.get("parse_mode"),
            params.get("entities"),
            reject_bare_ampersand=self.reject_bare_ampersand,
            users=self._users,
        )
        if not text:
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_length(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, entities

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=True)
        text, entities = self._format_text(params)
        markup = self._check_markup(params)
        self._check_limits(chat)
        message = self._new_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        preview = params.get("link_preview_options")
        if isinstance(preview, dict):
            message["link_preview_options"] = preview
        if markup is not None:
            message["reply_markup"] = markup
        self._store_sent(chat, message)
        return message

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=True)
        photo = params.get("photo")
        if photo is None or photo == "":
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        caption, entities = _format(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            reject_bare_ampersand=self.reject_bare_ampersand,
            users=self._users,
        )
        if utf16_length(caption) > MAX_CAPTION_LENGTH:
            raise _ApiError(400, "Bad Request: message caption is too long")
        markup = self._check_markup(params)
        self._check_limits(chat)
        message = self._new_message(chat, params)
        size = photo.get("file_size", 0) if isinstance(photo, dict) else 0
        serial = f"{chat.id}_{message['message_id']}"
        message["photo"] = [
            {
                "file_id": f"AgACAgEmu{serial}s",
                "file_unique_id": f"AQEmu{serial}s",
                "width": 90,
                "height": 60,
                "file_size": max(size // 20, 1),
            },
            {
                "file_id": f"AgACAgEmu{serial}m",
                "file_unique_id": f"AQEmu{serial}m",
                "width": 1280,
                "height": 853,
                "file_size": max(size, 1),
            },
        ]
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._store_sent(chat, message)
        return message

    def _message_to_edit(self, params: JSONDict) -> tuple[_Chat, JSONDict]:
        if params.get("inline_message_id") is not None:
            raise _ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat_for(params, sending=True)
        message_id = _req_int(
            params, "message_id", "Bad Request: message identifier is not specified"
        )
        message = self._bot_messages.get(chat.id, {}).get(message_id)
        if message is None:
            if message_id in self._user_messages.get(chat.id, {}):
                raise _ApiError(400, "Bad Request: message can't be edited")
            raise _ApiError(400, "Bad Request: message to edit not found")
        return chat, message

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        chat, current = self._message_to_edit(params)
        text, entities = self._format_text(params)
        markup = self._check_markup(params)
        if "text" not in current:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        if (
            current.get("text") == text
            and current.get("entities", []) == entities
            and current.get("reply_markup") == markup
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        edited = {k: v for k, v in current.items() if k not in ("entities", "reply_markup")}
        edited["text"] = text
        edited["edit_date"] = int(time.time())
        if entities:
            edited["entities"] = entities
        if markup is not None:
            edited["reply_markup"] = markup
        preview = params.get("link_preview_options")
        if isinstance(preview, dict):
            edited["link_preview_options"] = preview
        self._bot_messages[chat.id][edited["message_id"]] = edited
        return edited

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        chat, current = self._message_to_edit(params)
        markup = self._check_markup(params)
        if current.get("reply_markup") == markup:
            raise _ApiError(400, _NOT_MODIFIED)
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if markup is not None:
            edited["reply_markup"] = markup
        self._bot_messages[chat.id][edited["message_id"]] = edited
        return edited

    async def _delete_message(self, params: JSONDict) -> bool:
        chat = self._chat_for(params, sending=True)
        message_id = _req_int(
            params, "message_id", "Bad Request: message identifier is not specified"
        )
        for store in (self._bot_messages, self._user_messages):
            if store.get(chat.id, {}).pop(message_id, None) is not None:
                return True
        raise _ApiError(400, "Bad Request: message to delete not found")

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = _opt_str(params, "callback_query_id") or ""
        if self._callback_queries.get(query_id) is not False:
            raise _ApiError(400, _QUERY_INVALID)
        text = _opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": _flag(params, "show_alert"),
            "url": _opt_str(params, "url"),
        }
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat_for(params, sending=True)
        if _opt_str(params, "action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _leave_chat(self, params: JSONDict) -> bool:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise _ApiError(
                400, "Bad Request: chat member status can't be changed in private chats"
            )
        self._kicked.add(chat.id)
        return True

    # ---------------------------------------------------------------- methods: commands and profile

    def _scope_key(self, params: JSONDict) -> tuple[str, str, str]:
        scope = params.get("scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        language = _opt_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _ApiError(400, "Bad Request: invalid language code specified")
        full = json.dumps({"scope": scope, "language": language}, sort_keys=True)
        return str(scope["type"]), language, full

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_SHAPE.fullmatch(name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _ApiError(400, "Bad Request: command description is empty")
            cleaned.append({"command": name, "description": description})
        scope_type, language, full = self._scope_key(params)
        if cleaned:
            self.commands[(scope_type, language)] = cleaned
            self._full_commands[full] = cleaned
        else:
            self.commands.pop((scope_type, language), None)
            self._full_commands.pop(full, None)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return list(self._full_commands.get(self._scope_key(params)[2], []))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        scope_type, language, full = self._scope_key(params)
        self.commands.pop((scope_type, language), None)
        self._full_commands.pop(full, None)
        return True

    def _set_profile_text(
        self, params: JSONDict, field_name: str, store: dict[str, str], limit: int
    ) -> bool:
        value = _opt_str(params, field_name) or ""
        if len(value) > limit:
            raise _ApiError(400, f"Bad Request: {field_name.replace('_', ' ')} is too long")
        language = _opt_str(params, "language_code") or ""
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    async def _set_my_description(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "description", self.descriptions, 512)

    async def _get_my_description(self, params: JSONDict) -> JSONDict:
        language = _opt_str(params, "language_code") or ""
        return {"description": self.descriptions.get(language, self.descriptions.get("", ""))}

    async def _set_my_short_description(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "short_description", self.short_descriptions, 120)

    async def _get_my_short_description(self, params: JSONDict) -> JSONDict:
        language = _opt_str(params, "language_code") or ""
        text = self.short_descriptions.get(language, self.short_descriptions.get("", ""))
        return {"short_description": text}

    async def _set_my_name(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "name", self.names, 64)

    async def _get_my_name(self, params: JSONDict) -> JSONDict:
        language = _opt_str(params, "language_code") or ""
        return {"name": self.names.get(language, self.names.get("", self.bot_first_name))}

    # ---------------------------------------------------------------- methods: chats and members

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=False)
        info = chat.as_chat()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": chat.type == "private",
                    "limited_gifts": chat.type == "private",
                    "unique_gifts": chat.type == "private",
                    "premium_subscription": chat.type == "private",
                    "gifts_from_channels": chat.type == "private",
                },
            }
        )
        if chat.type != "private":
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_invite_users": True,
            }
        return info

    def _user_or_placeholder(self, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            return self.bot_user
        user = self._users.get(user_id)
        if user is None:
            return {"id": user_id, "is_bot": False, "first_name": "User"}
        return dict(user)

    def _status_of(self, chat: _Chat, user_id: int) -> str:
        if chat.type == "private":
            return "member" if user_id in (chat.id, self.bot_id) else "left"
        if user_id == chat.owner:
            return "creator"
        if user_id in chat.admins:
            return "administrator"
        if user_id in chat.members or user_id == self.bot_id:
            return "member"
        return "left"

    def _member_dict(self, chat: _Chat, user_id: int, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": self._user_or_placeholder(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            is_channel = chat.type == "channel"
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": not is_channel,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": True,
                    "can_edit_stories": True,
                    "can_delete_stories": True,
                }
            )
            if is_channel:
                member["can_post_messages"] = True
                member["can_edit_messages"] = True
            else:
                member["can_pin_messages"] = True
            if chat.type == "supergroup":
                member["can_manage_topics"] = chat.is_forum
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **{
                        permission: False
                        for permission in (
                            "can_send_messages",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_manage_topics",
                        )
                    },
                }
            )
        return member

    async def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=False)
        user_id = _req_int(params, "user_id", "Bad Request: user_id is empty")
        if user_id <= 0:
            raise _ApiError(400, "Bad Request: invalid user_id specified")
        return self._member_dict(chat, user_id, self._status_of(chat, user_id))

    async def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise _ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins: list[JSONDict] = []
        if chat.owner is not None:
            admins.append(self._member_dict(chat, chat.owner, "creator"))
        for user_id in sorted(chat.admins - {chat.owner}):
            admins.append(self._member_dict(chat, user_id, "administrator"))
        return admins

    async def _get_chat_member_count(self, params: JSONDict) -> int:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            return 2
        everyone = {*chat.admins, *chat.members, self.bot_id}
        if chat.owner is not None:
            everyone.add(chat.owner)
        return len(everyone)


def _json_response(status: int, body: JSONDict) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(content, status_code=status, media_type="application/json")


@contextlib.asynccontextmanager
async def running_emulator(token: str, **options: Any) -> AsyncIterator[BotApiEmulator]:
    """`async with running_emulator(token) as emulator:` starts and stops an emulator."""
    emulator = BotApiEmulator(token=token, **options)
    async with emulator:
        yield emulator
