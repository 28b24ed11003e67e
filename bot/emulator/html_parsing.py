"""Telegram-flavoured HTML (parse_mode=HTML): tags, attributes and character references,
with the error descriptions Telegram gives for markup it rejects."""

from __future__ import annotations

from dataclasses import dataclass

from bot.emulator.answers import JSONDict
from bot.emulator.entities import ParseError, Span, byte_offset, link_span, spans_to_entities

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
            raise ParseError(
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


def _bare_ampersand(source: str, pos: int) -> ParseError:
    return ParseError(
        f"Character '&' at byte offset {byte_offset(source, pos)} does not start an HTML "
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
        text, spans = parse_html_spans(source, reject_bare_ampersand)
    except ParseError as exc:
        raise ValueError(str(exc)) from None
    return text, spans_to_entities(text, spans)


def parse_html_spans(source: str, reject_bare_ampersand: bool) -> tuple[str, list[Span]]:
    out: list[str] = []
    spans: list[Span] = []
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
        raise ParseError(f"Can't find end tag corresponding to start tag {stack[-1].name}")
    for span in spans:
        if span.type == "code":
            span.extra.pop("language", None)
    spans.sort(key=lambda s: (s.start, -(s.end - s.start)))
    return "".join(out), spans


def _open_html_tag(source: str, begin: int, reject_bare_ampersand: bool) -> tuple[_OpenTag, int]:
    size = len(source)
    at = byte_offset(source, begin)
    i = begin + 1
    while i < size and source[i] not in _HTML_SPACES and source[i] != ">":
        i += 1
    if i >= size:
        raise ParseError(f"Unclosed start tag at byte offset {at}")
    name = source[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        raise ParseError(f'Unsupported start tag "{name}" at byte offset {at}')
    attrs: dict[str, str] = {}
    while True:
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size:
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        if source[i] == ">":
            break
        attr_begin = i
        while i < size and source[i] not in _HTML_SPACES and source[i] not in "=>":
            i += 1
        attr = source[attr_begin:i].lower()
        if not attr:
            raise ParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size or source[i] != "=":
            if name == "blockquote" and attr == "expandable" and i < size:
                attrs[attr] = ""
                continue
            raise ParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{name}" at byte offset {at}'
            )
        i += 1
        while i < size and source[i] in _HTML_SPACES:
            i += 1
        if i >= size:
            raise ParseError(f'Unclosed start tag "{name}" at byte offset {at}')
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
                raise ParseError(
                    "Unexpected end of name token at byte offset "
                    f"{byte_offset(source, token_begin)}"
                )
        if i >= size:
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        attrs.setdefault(attr, "".join(value))
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    return _OpenTag(name, attrs, 0, begin), i + 1


def _close_html_tag(
    source: str, begin: int, stack: list[_OpenTag], out: list[str], spans: list[Span]
) -> int:
    size = len(source)
    at = byte_offset(source, begin)
    if not stack:
        raise ParseError(f"Unexpected end tag at byte offset {at}")
    i = begin + 2
    while i < size and source[i] not in _HTML_SPACES and source[i] != ">":
        i += 1
    name = source[begin + 2 : i].lower()
    while i < size and source[i] in _HTML_SPACES:
        i += 1
    if i >= size or source[i] != ">":
        raise ParseError(f"Unclosed end tag at byte offset {at}")
    tag = stack[-1]
    if name and name != tag.name:
        raise ParseError(
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
    tag: _OpenTag, start: int, end: int, out: list[str], spans: list[Span]
) -> Span | None:
    simple = _SIMPLE_TAG_TYPES.get(tag.name)
    if simple is not None:
        return Span(simple, start, end)
    if tag.name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"
        return Span(kind, start, end)
    if tag.name == "a":
        return link_span(tag.attrs.get("href") or "".join(out[start:end]), start, end)
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
        return Span(tag.name, start, end, extra)
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id", "")
        if not emoji_id.isdigit() or int(emoji_id) == 0:
            raise ParseError("Invalid custom emoji identifier specified")
        return Span("custom_emoji", start, end, {"custom_emoji_id": emoji_id})
    if tag.name == "tg-time":
        unix = tag.attrs.get("unix", "")
        if not unix.lstrip("-").isdigit():
            raise ParseError("Invalid Unix time specified")
        extra = {"unix_time": int(unix)}
        if tag.attrs.get("format"):
            extra["date_time_format"] = tag.attrs["format"]
        return Span("date_time", start, end, extra)
    return None
