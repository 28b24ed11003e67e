"""Every reply in the reader's language: the wording comes from the gettext catalogues
(bot/texts/locale, loaded by `catalogue`); values put into a message are always escaped."""

from __future__ import annotations

from collections.abc import Mapping

from bot.texts.catalogue import COUNT, SOURCE_LANGUAGE, load_catalogues
from bot.texts.plain import escape, utf16_len

CATALOGUES = load_catalogues()
DEFAULT_LANGUAGE = SOURCE_LANGUAGE
# English first, then every language a catalogue was found for: the command menus, /settings'
# language buttons and the readers' own languages follow it.
LANGUAGES = CATALOGUES.languages


class Html(str):
    """Telegram HTML that is already safe: a template inserts it as it is."""

    __slots__ = ()


def bold(text: str) -> Html:
    return Html(f"<b>{escape(text)}</b>")


def join_html(
    parts: list[Html], separator: str = ", ", budget: int = 1500, language: str = DEFAULT_LANGUAGE
) -> Html:
    """`parts` joined, as many as fit in `budget` UTF-16 units, then "+N more"."""
    shown: list[str] = []
    used = 0
    for index, part in enumerate(parts):
        cost = utf16_len(part) + len(separator)
        if shown and used + cost > budget:
            shown.append(render("more_count", language, count=len(parts) - index))
            break
        shown.append(part)
        used += cost
    return Html(escape(separator).join(shown))


# Each language's own messages (no English filled in), a plural entry by its general form.
MESSAGES: Mapping[str, Mapping[str, str]] = {
    catalogue.language: {key: forms[-1] for key, forms in catalogue.messages.items()}
    for catalogue in (CATALOGUES.source, *CATALOGUES.translations.values())
}


def render(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> Html:
    """The message `key` in `language` (English when missing), with `values` escaped unless
    they are Html already."""
    template = CATALOGUES.template(key, language, values.get(COUNT))
    safe = {
        name: value if isinstance(value, Html) else escape(str(value))
        for name, value in values.items()
    }
    return Html(template.format(**safe))


def plain(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The message `key` as plain text (button labels, callback answers): nothing escaped."""
    template = CATALOGUES.template(key, language, values.get(COUNT))
    return template.format(**{name: str(value) for name, value in values.items()})
