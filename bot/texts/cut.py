"""Cutting Telegram HTML to a size without breaking it: every reply fits in one message."""

from __future__ import annotations

import re

from bot.texts.plain import ELLIPSIS, MESSAGE_LIMIT, utf16_len

# A tag, an entity, or a run of text without either.
_TOKEN = re.compile(r"<[^>]*>|&[^;\s<>&]*;|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


def cut_html(markup: str, limit: int = MESSAGE_LIMIT) -> str:
    """`markup` when it has at most `limit` UTF-16 units; otherwise its beginning, cut between
    tags and entities (never inside one, nor inside a character) and at a word boundary when
    one is near, then "…", with the tags still open closed, all within `limit`.

    `markup` is HTML as tagwire writes it: tags balanced, `<`, `>` and `&` escaped in text."""
    if utf16_len(markup) <= limit:
        return markup
    ellipsis = utf16_len(ELLIPSIS)
    if limit < ellipsis:
        return ""
    open_tags: list[str] = []
    kept: list[str] = []
    # UTF-16 units kept so far, and those the closing tags of the open ones will take.
    used = closing_cost = 0
    cut_mid_text = False
    for match in _TOKEN.finditer(markup):
        token = match.group()
        cost = utf16_len(token)
        if token.startswith("<") and len(token) > 1:
            name = _TAG_NAME.match(token)
            tag = name.group(1).lower() if name else ""
            if token.startswith("</") and open_tags and open_tags[-1] == tag:
                # Its room was set aside when the tag opened.
                open_tags.pop()
                closing_cost -= len(tag) + 3
                kept.append(token)
                used += cost
                continue
            opens = not token.startswith("</") and not token.endswith("/>")
            closing = len(tag) + 3 if opens else 0
            if used + cost + closing + closing_cost + ellipsis > limit:
                break
            kept.append(token)
            used += cost
            if opens:
                open_tags.append(tag)
                closing_cost += closing
            continue
        room = limit - used - closing_cost - ellipsis
        if cost <= room:
            kept.append(token)
            used += cost
            continue
        if not token.startswith("&") and room > 0:
            kept.append(_text_within(token, room))
            cut_mid_text = True
        break
    text = "".join(kept)
    if cut_mid_text:
        # A word cut in half reads worse than a word left out, unless that loses a lot.
        space = text.rfind(" ")
        tail = text[space + 1 :]
        if space >= 0 and len(tail) < 20 and not any(mark in tail for mark in "<>&"):
            text = text[: space + 1]
    text = text.rstrip(" \n") + ELLIPSIS
    return text + "".join(f"</{tag}>" for tag in reversed(open_tags))


def _text_within(text: str, room: int) -> str:
    """The longest beginning of `text` within `room` UTF-16 units, whole characters only."""
    low, high = 0, min(len(text), room)
    while low < high:
        middle = (low + high + 1) // 2
        if utf16_len(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low]
