"""The gettext catalogues in bot/texts/locale: which languages the bot speaks, and each
message's wording in them.

Every message is an entry whose msgid is its key (`followed`, `burst_heading`); English
(`en/LC_MESSAGES/tagwire.po`) is the source every other catalogue translates and the
fallback for whatever a catalogue lacks. A message that takes `{count}` is a plural entry,
and the catalogue's Plural-Forms header picks its form. Each `<language>/LC_MESSAGES/
tagwire.po` found is a language: adding one needs no change to the code.

The .po files are read with Babel when the bot starts and held in memory (no .mo to build
or to go stale); reading both shipped catalogues takes about 50 ms. A translated message
that fails `translation_check` is left out with one log line, and English is used for it.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.core import UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from bot.texts.translation_check import (
    TranslationProblem,
    check_source,
    check_translation,
    placeholders,
)

logger = logging.getLogger(__name__)

LOCALE_DIRECTORY = Path(__file__).resolve().parent / "locale"
DOMAIN = "tagwire"
SOURCE_LANGUAGE = "en"
# The value that chooses a plural form: a message that takes it is a plural entry.
COUNT = "count"
# Telegram's menus take ISO 639-1 codes only (setMyCommands' language_code), and a reader's
# language_code is matched by its first two letters (bot/chats.py).
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")


# What reading a contributor's .po file can raise: a language it breaks is left out.
UNREADABLE = (OSError, PoFileError, ValueError, UnknownLocaleError)


def is_language_code(language: str) -> bool:
    return _LANGUAGE_CODE.fullmatch(language) is not None


class CatalogueError(RuntimeError):
    """The English catalogue cannot be used: the bot cannot say anything without it."""


def catalogue_path(directory: Path, language: str) -> Path:
    return directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True)
class Catalogue:
    """One language's messages: each key's forms (one, or one per plural form)."""

    language: str
    messages: Mapping[str, tuple[str, ...]]
    plural: Callable[[int], int]

    def form(self, key: str, count: object = None) -> str | None:
        forms = self.messages.get(key)
        if forms is None:
            return None
        if len(forms) == 1:
            return forms[0]
        if isinstance(count, int) and not isinstance(count, bool):
            return forms[min(self.plural(count), len(forms) - 1)]
        # A count given as text (already formatted): the last form, the most general one.
        return forms[-1]


@dataclass(frozen=True)
class Catalogues:
    source: Catalogue
    translations: Mapping[str, Catalogue]

    @property
    def languages(self) -> tuple[str, ...]:
        return (self.source.language, *sorted(self.translations))

    def template(self, key: str, language: str, count: object = None) -> str:
        """The wording of `key` in `language`, English when that language lacks it.
        KeyError when English has no such message."""
        translation = self.translations.get(language)
        found = translation.form(key, count) if translation is not None else None
        if found is None:
            found = self.source.form(key, count)
        if found is None:
            raise KeyError(key)
        return found


def read_catalogue(path: Path, language: str) -> Catalog:
    """The .po file at `path` as Babel reads it; its plural rule is that of its Plural-Forms
    header, or the language's own (CLDR) when it has none."""
    with path.open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN, abort_invalid=True)


def entries(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The entries of `catalog` a translator has written: key → forms. Untranslated (empty)
    and fuzzy entries are left out: the translator has not vouched for them."""
    found: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        string = message.string
        forms = (string,) if isinstance(string, str) else tuple(string or ())
        if any(forms):
            found[key] = forms
    return found


def plural_entries(catalog: Catalog) -> frozenset[str]:
    return frozenset(
        message.id[0] for message in catalog if message.id and not isinstance(message.id, str)
    )


def load_source(path: Path) -> Catalogue:
    """The English catalogue, every message checked: a fault here is the code's to fix."""
    try:
        catalog = read_catalogue(path, SOURCE_LANGUAGE)
    except (OSError, PoFileError, ValueError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    messages = entries(catalog)
    plural = plural_entries(catalog)
    for key, forms in messages.items():
        try:
            for form in forms:
                check_source(form)
        except TranslationProblem as exc:
            raise CatalogueError(f"{path}: {key}: {exc}") from None
        if (key in plural) != _takes_count(forms[-1]) or not all(forms):
            raise CatalogueError(
                f"{path}: {key}: a message with {{{COUNT}}} is a plural entry with every form"
            )
    return Catalogue(SOURCE_LANGUAGE, messages, gettext.c2py(catalog.plural_expr))


def _takes_count(template: str) -> bool:
    return any(name == COUNT for name, _, _ in placeholders(template))


def translation_problems(
    catalog: Catalog, source: Catalogue
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The usable messages of a translation, and why each other one cannot be used."""
    usable: dict[str, tuple[str, ...]] = {}
    problems: dict[str, str] = {}
    plural = plural_entries(catalog)
    for key, forms in entries(catalog).items():
        english = source.messages.get(key)
        if english is None:
            problems[key] = "English has no such message"
            continue
        english_plural = len(english) > 1
        if (key in plural) != english_plural:
            kind = "a plural entry (msgid_plural)" if english_plural else "a single message"
            problems[key] = f"it must be {kind}, as in English"
            continue
        if english_plural and (len(forms) != catalog.num_plurals or not all(forms)):
            written = sum(1 for form in forms if form)
            problems[key] = f"it has {written} forms; Plural-Forms says {catalog.num_plurals}"
            continue
        omit = frozenset({COUNT}) if english_plural else frozenset()
        try:
            for form in forms:
                # The English plural's last form is its general one ("{count} stories").
                check_translation(english[-1], form, may_omit=omit)
        except TranslationProblem as exc:
            problems[key] = str(exc)
            continue
        usable[key] = forms
    return usable, problems


def load_translation(path: Path, language: str, source: Catalogue) -> Catalogue | None:
    """The usable part of one translation; None (and a log line) when the file cannot be read."""
    try:
        catalog = read_catalogue(path, language)
        plural = gettext.c2py(catalog.plural_expr)
    except UNREADABLE as exc:
        logger.warning("translation %s is not used: %s", path, exc)
        return None
    usable, problems = translation_problems(catalog, source)
    for key, problem in problems.items():
        logger.warning("translation %s: %s is not used, English is: %s", path, key, problem)
    return Catalogue(language, usable, plural)


def load_catalogues(directory: Path | None = None) -> Catalogues:
    """English and every translation found in `directory` (`<language>/LC_MESSAGES/
    tagwire.po`, the language a two-letter code), by default LOCALE_DIRECTORY."""
    directory = LOCALE_DIRECTORY if directory is None else directory
    source = load_source(catalogue_path(directory, SOURCE_LANGUAGE))
    translations: dict[str, Catalogue] = {}
    for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = path.parent.parent.name
        if language == SOURCE_LANGUAGE:
            continue
        if not is_language_code(language):
            logger.warning(
                "translation %s is not used: %r is not a two-letter code", path, language
            )
            continue
        translation = load_translation(path, language, source)
        if translation is not None:
            translations[language] = translation
    return Catalogues(source, translations)
