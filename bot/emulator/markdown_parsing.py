"""Telegram's MarkdownV2 and its legacy Markdown (parse_mode=MarkdownV2 / Markdown), with the
error descriptions Telegram gives for markup it rejects."""

from __future__ import annotations

from dataclasses import dataclass

from bot.emulator.answers import JSONDict
from bot.emulator.entities import ParseError, Span, byte_offset, link_span

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


def parse_markdown_v2(source: str) -> tuple[str, list[Span]]:
    out: list[str] = []
    spans: list[Span] = []
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
                    spans.append(Span("blockquote", quote_start, len(out)))
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
                span = link_span(url, top.start, len(out)) if len(out) > top.start else None
                if span is not None:
                    spans.append(span)
                continue
            if len(out) > top.start:
                extra: JSONDict = {"language": top.language} if top.language else {}
                spans.append(Span(top.type, top.start, len(out), extra))
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
            raise ParseError(
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
        raise ParseError(
            f"Can't find end of {name} entity at byte offset {byte_offset(source, top.begin)}"
        )
    if quote_start is not None and len(out) > quote_start:
        spans.append(Span("blockquote", quote_start, len(out)))
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
        raise ParseError(f"Can't find end of a URL at byte offset {byte_offset(source, i)}")
    return "".join(url), i + 1


def parse_markdown(source: str) -> tuple[str, list[Span]]:
    """Telegram's legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out: list[str] = []
    spans: list[Span] = []
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
        unclosed = ParseError(
            f"Can't find end of the entity starting at byte offset {byte_offset(source, i)}"
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
            span = link_span(url, start, len(out)) if len(out) > start else None
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
                spans.append(Span("pre", start, len(out), extra))
            continue
        close = source.find(char, i + 1)
        if close == -1:
            raise unclosed
        out.extend(source[i + 1 : close])
        i = close + 1
        if len(out) > start:
            kind = {"*": "bold", "_": "italic", "`": "code"}[char]
            spans.append(Span(kind, start, len(out)))
    return "".join(out), spans
