"""A text or caption parameter turned into what Telegram stores: the text after parse_mode
(or explicit entities), trimmed, with the entities Telegram detects added."""

from __future__ import annotations

import json
from typing import Any

from bot.emulator.answers import ApiError, JSONDict
from bot.emulator.entities import (
    ParseError,
    Span,
    detect_spans,
    entities_to_spans,
    spans_to_entities,
)
from bot.emulator.html_parsing import parse_html_spans
from bot.emulator.markdown_parsing import parse_markdown, parse_markdown_v2


def _trim(text: str, spans: list[Span]) -> tuple[str, list[Span]]:
    # Telegram strips leading and trailing whitespace from every message text and caption.
    stripped = text.strip(" \t\n\r\v\f")
    if stripped == text:
        return text, spans
    lead = len(text) - len(text.lstrip(" \t\n\r\v\f"))
    kept: list[Span] = []
    for span in spans:
        start = max(span.start - lead, 0)
        end = min(span.end - lead, len(stripped))
        if end > start:
            kept.append(Span(span.type, start, end, span.extra))
    return stripped, kept


def parse_text(
    raw: Any,
    parse_mode: Any,
    entities: Any,
    *,
    reject_bare_ampersand: bool,
    users: dict[int, JSONDict],
) -> tuple[str, list[JSONDict]]:
    """Turns a text parameter into Telegram's (text, entities), raising the errors it would."""
    text = "" if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
    spans: list[Span]
    if entities is not None:
        spans = entities_to_spans(text, entities)
    elif parse_mode is None or parse_mode == "":
        spans = []
    else:
        mode = str(parse_mode).lower()
        try:
            if mode == "html":
                text, spans = parse_html_spans(text, reject_bare_ampersand)
            elif mode == "markdownv2":
                text, spans = parse_markdown_v2(text)
            elif mode == "markdown":
                text, spans = parse_markdown(text)
            else:
                raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        except ParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    text, spans = _trim(text, spans)
    spans = spans + detect_spans(text, spans)
    return text, spans_to_entities(text, spans, users)
