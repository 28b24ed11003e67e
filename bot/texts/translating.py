"""The translators' commands (docs/translating.md):

    python -m bot.texts.translating template          # rewrite bot/texts/locale/tagwire.pot
    python -m bot.texts.translating check [de ...]    # check translations, as the bot will

The messages live in .po files keyed by message key, not in the Python code, so `pybabel
extract` has nothing to extract: the template is made from the English catalogue, each entry
with the English wording as its comment for the translator. `check` applies the rules the bot
applies when it loads a catalogue and says what it would not use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.texts.catalogue import (
    DOMAIN,
    LOCALE_DIRECTORY,
    SOURCE_LANGUAGE,
    UNREADABLE,
    catalogue_path,
    is_language_code,
    load_source,
    read_catalogue,
    translation_problems,
)

TEMPLATE = LOCALE_DIRECTORY / f"{DOMAIN}.pot"
# A catalogue without it shows "English" on its own /settings button.
REQUIRED = ("language_name",)
# The width `pybabel init` and `update` write at: the comments they copy keep their lines.
WIDTH = 76


def template_catalog(directory: Path = LOCALE_DIRECTORY) -> Catalog:
    """The template: every English message's key, with its English wording as a comment."""
    with catalogue_path(directory, SOURCE_LANGUAGE).open("rb") as file:
        english = read_po(file, locale=SOURCE_LANGUAGE, domain=DOMAIN)
    template = Catalog(
        domain=DOMAIN,
        project="tagwire",
        version="1",
        copyright_holder="tagwire",
        msgid_bugs_address="tagwire maintainers",
        fuzzy=True,
    )
    for message in english:
        if not message.id:
            continue
        string = message.string
        forms = [string] if isinstance(string, str) else list(string or ())
        comments = []
        for index, form in enumerate(forms):
            if len(forms) > 1:
                label = "one" if index == 0 else "other"
                comments.append(f"English ({label}; the form is chosen by {{count}}):")
            else:
                comments.append("English:")
            # One comment per form, its line breaks written \n as in a msgstr: a comment
            # line of its own would lose the blank ones.
            comments.append(form.replace("\n", "\\n"))
        template.add(message.id, user_comments=message.user_comments, auto_comments=comments)
    return template


def write_template(path: Path = TEMPLATE) -> int:
    catalog = template_catalog()
    buffer = BytesIO()
    write_po(buffer, catalog, width=WIDTH)
    path.write_bytes(buffer.getvalue())
    return len(catalog)


def check(path: Path, language: str) -> list[str]:
    """What the bot would not use of the catalogue at `path`, one line each (none: fine),
    after a summary line on stdout."""
    source = load_source(catalogue_path(LOCALE_DIRECTORY, SOURCE_LANGUAGE))
    if not is_language_code(language):
        return [f"{path}: {language!r} is not a two-letter language code (ISO 639-1)"]
    try:
        catalog = read_catalogue(path, language)
    except UNREADABLE as exc:
        return [f"{path}: cannot be read: {exc}"]
    usable, problems = translation_problems(catalog, source)
    found = [f"{path}: {key}: not used: {problem}" for key, problem in problems.items()]
    found += [f"{path}: {key}: missing" for key in REQUIRED if key not in usable]
    fuzzy = sorted(
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id and message.fuzzy
    )
    untranslated = sorted(set(source.messages) - set(usable) - set(problems))
    sys.stdout.write(
        f"{path}: {language}: {len(usable)} of {len(source.messages)} messages usable, "
        f"nplurals={catalog.num_plurals}; "
        f"English stands in for {len(untranslated)}"
        + (f" (fuzzy: {', '.join(fuzzy)})" if fuzzy else "")
        + "\n"
    )
    return found


def _language_and_path(argument: str) -> tuple[str, Path]:
    path = Path(argument)
    if path.suffix == ".po":
        # <language>/LC_MESSAGES/tagwire.po
        return path.resolve().parent.parent.name, path
    return argument, catalogue_path(LOCALE_DIRECTORY, argument)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.texts.translating")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("template", help=f"rewrite {TEMPLATE} from the English catalogue")
    checking = commands.add_parser("check", help="check translations as the bot loads them")
    checking.add_argument(
        "catalogues", nargs="*", help="language codes or .po paths (default: every language)"
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "template":
        count = write_template()
        sys.stdout.write(f"{TEMPLATE}: {count} messages\n")
        return 0
    wanted = arguments.catalogues or sorted(
        path.parent.parent.name
        for path in LOCALE_DIRECTORY.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
        if path.parent.parent.name != SOURCE_LANGUAGE
    )
    problems = []
    for argument in wanted:
        language, path = _language_and_path(argument)
        problems += check(path, language)
    for problem in problems:
        sys.stdout.write(problem + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
