"""Whether a translated message may stand in for its English source.

A translation is text a contributor wrote, so it is checked before the bot uses it: it must be
well-formed Telegram HTML with exactly the source's markup, and use only the source's
placeholders. Values put into a message are escaped by `render` whatever the translation says;
this check makes sure the translation itself cannot add a link, break a tag or read an
attribute of a value (`{tags.__class__}`).
"""

from __future__ import annotations

import re
import string
from collections import Counter

# A tag, an entity, or one of the characters that would start either.
_MARKUP = re.compile(r"<[^<>]*>|&[^;\s<>&]*;|[<>&]")
# The entities Telegram's HTML knows; numeric ones are as good as the characters they name.
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")
_OPENING = re.compile(r"<([a-z][a-z0-9-]*)(?:\s[^<>]*)?>")
_CLOSING = re.compile(r"</([a-z][a-z0-9-]*)>")


class TranslationProblem(ValueError):
    """Why a translated message cannot be used; the message says what to fix."""


def placeholders(template: str) -> Counter[tuple[str, str, str]]:
    """Each `{name}` of `template` as (name, format spec, conversion), counted."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TranslationProblem(f"braces do not pair up ({exc})") from None
    return Counter(
        (name, spec or "", conversion or "")
        for _, name, spec, conversion in parsed
        if name is not None
    )


def tags(template: str) -> list[str]:
    """The tags of `template` in order; a stray `<`, `>` or `&` or an unbalanced tag is a
    problem. A placeholder counts as its bare `{name}` (its format spec may hold a `>`)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TranslationProblem(f"braces do not pair up ({exc})") from None
    text = "".join(
        literal + ("" if name is None else "{" + name + "}") for literal, name, _, _ in parsed
    )
    found: list[str] = []
    open_tags: list[str] = []
    for match in _MARKUP.finditer(text):
        token = match.group()
        if token.startswith("&"):
            if not _ENTITY.fullmatch(token):
                raise TranslationProblem(f"“{token}” is not an HTML entity (write &amp;)")
            continue
        if len(token) == 1:
            raise TranslationProblem(f"a lone “{token}” (write &lt;, &gt; or &amp;)")
        closing = _CLOSING.fullmatch(token)
        opening = _OPENING.fullmatch(token)
        if closing:
            if not open_tags or open_tags[-1] != closing.group(1):
                raise TranslationProblem(f"{token} closes no open tag")
            open_tags.pop()
        elif opening:
            open_tags.append(opening.group(1))
        else:
            raise TranslationProblem(f"{token} is not a tag Telegram reads")
        found.append(token)
    if open_tags:
        raise TranslationProblem(f"<{open_tags[-1]}> is never closed")
    return found


def check_source(source: str) -> None:
    """Raise TranslationProblem when an English message is not well-formed itself."""
    tags(source)
    for name, spec, conversion in placeholders(source):
        if not name.isidentifier() or spec or conversion:
            raise TranslationProblem(f"{{{name}}}: a placeholder is a plain {{name}}")


def check_translation(
    source: str, translation: str, *, may_omit: frozenset[str] = frozenset()
) -> None:
    """Raise TranslationProblem unless `translation` has the markup of `source` (the same
    tags, each as often, in any order that nests) and the placeholders of `source`, no other
    and none left out but those in `may_omit` (a plural form for one may say "one story")."""
    expected, given = Counter(tags(source)), Counter(tags(translation))
    if given != expected:
        added = sorted((given - expected).elements())
        missing = sorted((expected - given).elements())
        raise TranslationProblem(
            "its markup differs from the English:"
            + (f" adds {' '.join(added)}" if added else "")
            + (f" lacks {' '.join(missing)}" if missing else "")
        )
    wanted, used = set(placeholders(source)), set(placeholders(translation))
    unknown = used - wanted
    if unknown:
        raise TranslationProblem(f"unknown placeholder {_shown(unknown)}")
    left_out = {field for field in wanted - used if field[0] not in may_omit}
    if left_out:
        raise TranslationProblem(f"placeholder {_shown(left_out)} left out")


def _shown(fields: set[tuple[str, str, str]]) -> str:
    return ", ".join(
        sorted(
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
            for name, spec, conversion in fields
        )
    )
