"""Stories as Telegram HTML messages: every field escaped, never over 4096 UTF-16 units."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.tags import hashtag
from bot.texts.plain import (
    ELLIPSIS,
    MESSAGE_LIMIT,
    cut_at_word,
    escape,
    escape_attribute,
    fit_cut,
    utf16_len,
)
from storage.models import Article

TEASER_LENGTH = 300
LIST_TEASER_LENGTH = 140
READ_MORE = "Read more"


def _link(url: str, label: str) -> str:
    return f'<a href="{escape_attribute(url)}">{escape(label)}</a>'


def _bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def _hashtags(tags: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for name in tags:
        tag = hashtag(name)
        if tag is not None and tag not in seen:
            seen.append(tag)
    return seen


def render_teaser(article: Article, *, read_more: str = READ_MORE) -> str:
    """Bold title, the teaser cut near 300 characters, a "Read more" link, the tags as hashtags."""
    link = _link(article.url, read_more)
    title = article.title
    teaser = cut_at_word(article.teaser, TEASER_LENGTH)
    tags = _hashtags(article.tags)

    def assemble(title: str, teaser: str, tags: Sequence[str]) -> str:
        blocks = [_bold(title)]
        if teaser:
            blocks.append(escape(teaser))
        blocks.append(link + ("\n" + " ".join(tags) if tags else ""))
        return "\n\n".join(blocks)

    message = assemble(title, teaser, tags)
    if utf16_len(message) <= MESSAGE_LIMIT:
        return message
    # Over the limit only with pathological fields (a title of 300 ampersands, a 2 KB URL):
    # give up the teaser first, then hashtags, then the end of the title; the link stays.
    fixed = utf16_len(assemble(title, "", tags))
    if fixed < MESSAGE_LIMIT - 2:
        cut = fit_cut(teaser, MESSAGE_LIMIT - fixed - 2, escape)
        return assemble(title, cut or "", tags)
    while tags and utf16_len(assemble(title, "", tags)) > MESSAGE_LIMIT:
        tags = tags[:-1]
    budget = MESSAGE_LIMIT - utf16_len(assemble("", "", tags))
    return assemble(fit_cut(title, budget, escape) or ELLIPSIS, "", tags)


# Telegram's limit for a photo's caption, in UTF-16 units of its text (the markup's tags and
# the link's URL do not count).
CAPTION_LIMIT = 1024


def render_caption(article: Article, *, read_more: str = READ_MORE) -> str | None:
    """The teaser as a photo's caption, its text within 1024 UTF-16 units: the teaser cut
    shorter at a word boundary when needed, then the title; the link and every hashtag stay.
    None when even they and a word of the title do not fit (20 long tags): such a story
    goes out as a text teaser."""
    tags = _hashtags(article.tags)
    title = article.title
    teaser = cut_at_word(article.teaser, TEASER_LENGTH)
    # The text Telegram counts: "title\n\nteaser\n\nRead more\n#tag #tag".
    ending = utf16_len(read_more) + (utf16_len(" ".join(tags)) + 1 if tags else 0)
    room = CAPTION_LIMIT - ending - 2
    if teaser and utf16_len(title) + 2 + utf16_len(teaser) > room:
        teaser = fit_cut(teaser, room - utf16_len(title) - 2, str) or ""
    if utf16_len(title) > room:
        title = fit_cut(title, room, str) or ""
    if not title:
        return None
    blocks = [_bold(title)]
    if teaser:
        blocks.append(escape(teaser))
    blocks.append(_link(article.url, read_more) + ("\n" + " ".join(tags) if tags else ""))
    return "\n\n".join(blocks)


def render_article_list(
    heading: str, articles: Sequence[Article], *, more_note: str = "…and {n} more"
) -> str:
    """A numbered list of stories (linked title, short teaser, date) under a bold heading,
    as many as fit in one message; `more_note` says how many did not."""
    blocks = [_bold(heading)]
    used = utf16_len(blocks[0])
    for index, article in enumerate(articles):
        remaining = len(articles) - index
        # Keep room for the note about the stories that might not fit.
        reserve = utf16_len("\n\n" + escape(more_note.format(n=remaining)))
        entry = _list_entry(index + 1, article, MESSAGE_LIMIT - used - reserve - 2)
        if entry is None:
            blocks.append(escape(more_note.format(n=remaining)))
            break
        blocks.append(entry)
        used += utf16_len(entry) + 2
    return "\n\n".join(blocks)


def _list_entry(number: int, article: Article, budget: int) -> str | None:
    date = article.published_at.strftime("%d %b %Y").lstrip("0")
    prefix = f"{number}. "
    teaser = cut_at_word(article.teaser, LIST_TEASER_LENGTH)

    def assemble(title: str, teaser: str) -> str:
        head = f"{prefix}<b>{_link(article.url, title)}</b>"
        tail = f"\n{escape(teaser)}" if teaser else ""
        return f"{head}{tail}\n<i>{escape(date)}</i>"

    entry = assemble(article.title, teaser)
    if utf16_len(entry) <= budget:
        return entry
    without_teaser = utf16_len(assemble(article.title, ""))
    if without_teaser <= budget:
        cut = fit_cut(teaser, budget - without_teaser - 1, escape)
        return assemble(article.title, cut or "")
    skeleton = utf16_len(assemble("", ""))
    if skeleton >= budget:
        return None
    title = fit_cut(article.title, budget - skeleton, escape)
    return assemble(title, "") if title else None


DIGEST_TITLE_LENGTH = 200


def _digest_line(article: Article) -> str:
    return f"• {_link(article.url, cut_at_word(article.title, DIGEST_TITLE_LENGTH))}"


def _assemble_digest(
    heading: str, articles: Sequence[Article], group_of: Callable[[Article], str]
) -> str:
    groups: dict[str, list[str]] = {}
    for article in articles:
        groups.setdefault(group_of(article), []).append(_digest_line(article))
    blocks = [_bold(heading)]
    for group, lines in groups.items():
        label = hashtag(group) or group
        blocks.append(_bold(label) + "\n" + "\n".join(lines) if group else "\n".join(lines))
    return "\n\n".join(blocks)


def render_digest(
    heading: str, articles: Sequence[Article], group_of: Callable[[Article], str]
) -> tuple[str, int]:
    """Several stories in one message: a bold heading, then each story's linked title under
    the tag it is grouped by. Takes as many of `articles`, in order, as fit in one message and
    returns the message with that count (0 when not even the first fits)."""
    fitted, count = "", 0
    low, high = 1, len(articles)
    # Every story added makes the message longer, so the largest count that fits is found
    # by bisection.
    while low <= high:
        size = (low + high) // 2
        candidate = _assemble_digest(heading, articles[:size], group_of)
        if utf16_len(candidate) <= MESSAGE_LIMIT:
            fitted, count = candidate, size
            low = size + 1
        else:
            high = size - 1
    return fitted, count
