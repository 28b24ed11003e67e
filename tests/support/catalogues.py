"""Translation catalogues written the way a contributor's pull request would add them."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bot.texts.catalogue import LOCALE_DIRECTORY, catalogue_path

# A message's forms: one string, or one per plural form (an entry with msgid_plural).
Messages = dict[str, str | tuple[str, ...]]


def copy_shipped(directory: Path, languages: tuple[str, ...] = ("en", "ru")) -> Path:
    """`directory` as a locale directory holding the shipped catalogues of `languages`."""
    for language in languages:
        target = catalogue_path(directory, language)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(catalogue_path(LOCALE_DIRECTORY, language), target)
    return directory


def write_catalogue(
    directory: Path, language: str, messages: Messages, plural_forms: str | None = None
) -> Path:
    """A .po file for `language` in `directory` with `messages` (key → forms), and a
    Plural-Forms header when given (else the language's own rule applies)."""
    catalog = Catalog(locale=language, domain="tagwire", fuzzy=False)
    if plural_forms is not None:
        catalog.mime_headers = [*catalog.mime_headers, ("Plural-Forms", plural_forms)]
    for key, forms in messages.items():
        catalog.add(key if isinstance(forms, str) else (key, key), forms)
    path = catalogue_path(directory, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        write_po(file, catalog)
    return path
