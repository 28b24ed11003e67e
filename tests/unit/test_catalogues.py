"""The replies' gettext catalogues: plural rules, a third language dropped in as one .po file,
translations that try to add markup or placeholders, and the translators' commands."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.emulator import parse_html
from bot.texts import translating
from bot.texts.catalogue import (
    LOCALE_DIRECTORY,
    CatalogueError,
    catalogue_path,
    load_catalogues,
)
from bot.texts.replies import LANGUAGES, MESSAGES, render
from bot.texts.translation_check import TranslationProblem, check_translation
from tests.support.catalogues import copy_shipped, write_catalogue

ROOT = Path(__file__).resolve().parents[2]
RUSSIAN_PLURALS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);"
)


@pytest.fixture
def locale(tmp_path: Path) -> Path:
    """A locale directory with the shipped English and Russian catalogues in it."""
    return copy_shipped(tmp_path / "locale")


def test_the_shipped_catalogues_load_whole_and_without_a_complaint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.texts.catalogue"):
        catalogues = load_catalogues()
    assert caplog.records == []
    assert catalogues.languages == LANGUAGES == ("en", "ru")
    assert set(catalogues.translations["ru"].messages) == set(catalogues.source.messages)
    assert len(MESSAGES["ru"]) == len(MESSAGES["en"]) > 250


def test_the_russian_plural_rule_of_the_catalogue_picks_each_form(locale: Path) -> None:
    forms = ("{count} новость", "{count} новости", "{count} новостей")
    write_catalogue(locale, "ru", {"burst_heading": forms}, RUSSIAN_PLURALS)
    catalogues = load_catalogues(locale)
    chosen = {n: catalogues.template("burst_heading", "ru", n) for n in range(200)}
    assert [n for n in chosen if chosen[n] == forms[0]][:5] == [1, 21, 31, 41, 51]
    assert [n for n in chosen if chosen[n] == forms[1]][:6] == [2, 3, 4, 22, 23, 24]
    assert all(chosen[n] == forms[2] for n in (0, 5, 11, 12, 14, 25, 100, 101 + 10, 111))
    # Text that is not a number (already formatted) takes the general form.
    assert catalogues.template("burst_heading", "ru", "many") == forms[2]


def test_a_third_language_is_one_po_file_with_english_for_what_it_lacks(locale: Path) -> None:
    write_catalogue(
        locale,
        "eo",
        {
            "language_name": "Esperanto",
            "unfollowed": "Vi ne plu sekvas {tags}.",
            "burst_heading": ("{count} nova rakonto", "{count} novaj rakontoj"),
        },
    )
    catalogues = load_catalogues(locale)
    assert catalogues.languages == ("en", "eo", "ru")
    assert catalogues.template("unfollowed", "eo") == "Vi ne plu sekvas {tags}."
    assert catalogues.template("burst_heading", "eo", 1) == "{count} nova rakonto"
    assert catalogues.template("burst_heading", "eo", 3) == "{count} novaj rakontoj"
    assert catalogues.template("start", "eo") == catalogues.template("start", "en")


def test_a_dropped_in_catalogue_reaches_the_menu_settings_and_readers(locale: Path) -> None:
    """No Python changes: the bot started with one more .po file speaks one more language."""
    write_catalogue(
        locale,
        "eo",
        {"language_name": "Esperanto", "command_follow": "Sekvi etikedojn: /follow Japan"},
    )
    # A fresh interpreter, so that every module reads the languages as the bot does at start.
    script = textwrap.dedent(
        f"""
        import json, pathlib
        import bot.texts.catalogue as catalogue
        catalogue.LOCALE_DIRECTORY = pathlib.Path({str(locale)!r})
        from bot.chats import language_from_code
        from bot.texts.replies import LANGUAGES
        from handlers import bot_commands
        from handlers.settings import apply_setting, describe_settings
        from storage.models import ChatSettings
        _, keyboard = describe_settings(ChatSettings(), "eo")
        buttons = [b for row in keyboard.inline_keyboard for b in row]
        print(json.dumps({{
            "languages": LANGUAGES,
            "menu": {{c.command: c.description for c in bot_commands("eo")}},
            "buttons": {{b.callback_data: b.text for b in buttons
                         if str(b.callback_data).startswith("cfg:lang:")}},
            "chosen": apply_setting(ChatSettings(), "lang", "eo").language,
            "reader": language_from_code("eo-EO"),
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["languages"] == ["en", "eo", "ru"]
    assert seen["menu"]["follow"] == "Sekvi etikedojn: /follow Japan"
    assert seen["menu"]["help"] == "Every command with an example"
    assert set(seen["buttons"]) == {"cfg:lang:en", "cfg:lang:eo", "cfg:lang:ru"}
    assert "Esperanto" in seen["buttons"]["cfg:lang:eo"]
    assert (seen["chosen"], seen["reader"]) == ("eo", "eo")


HOSTILE = {
    "followed": '✅ <a href="https://evil.example/">Now following</a> {tags}.',
    "tags_heading": "<b>Most active tags",
    "unfollowed": "Stopped following {tags}. {token}",
    "already_following": "You already follow {tags.__class__}.",
    "did_you_mean": "Did you mean {tags!r}?",
    "taste": "<b>Newest in {tag}:</b>\n{stories} & more",
    "unknown_command": "I do not know that command.",
    "share_link": "Teilen: {link}",
}


def test_a_translation_that_adds_markup_or_placeholders_is_replaced_by_english(
    locale: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_catalogue(locale, "de", HOSTILE)
    with caplog.at_level(logging.WARNING, logger="bot.texts.catalogue"):
        catalogues = load_catalogues(locale)
    lines = {record.getMessage() for record in caplog.records}
    rejected = {key for key in HOSTILE if any(f"{path}: {key} is not used" in x for x in lines)}
    assert rejected == set(HOSTILE) - {"share_link"}
    assert len(caplog.records) == len(rejected), "one line per rejected message"
    german = catalogues.translations["de"]
    assert set(german.messages) == {"share_link"}
    for key in rejected:
        assert catalogues.template(key, "de") == catalogues.template(key, "en")
    assert catalogues.template("share_link", "de") == "Teilen: {link}"


def test_the_rejected_translation_never_reaches_a_reply(locale: Path) -> None:
    write_catalogue(locale, "de", HOSTILE)
    catalogues = load_catalogues(locale)
    for key in HOSTILE:
        template = catalogues.template(key, "de")
        assert "evil" not in template
        assert "{token}" not in template
        parse_html(template.format(tags="x", tag="x", stories="x", link="x", command="x"))


@pytest.mark.parametrize(
    ("translation", "problem"),
    [
        ("<b>{tag}</b> <i>x</i>", None),
        ("<i>x</i> — <b>{tag}</b>", None),
        ("<b>{tag}</b> <i>x</i> &amp; y &lt;3 &#8212;", None),
        ("<b>{tag}</b> <i>x</b></i>", "closes no open tag"),
        ("<b>{tag} <i>x</i>", "never closed"),
        ("<b>{tag}</b> <u>x</u>", "adds </u> <u>"),
        ("<b>{tag}</b> x", "lacks </i> <i>"),
        ("<b>{tag}</b> <i>x</i> & y", "“&” is not an HTML entity"),
        ("<b>{tag}</b> <i>x</i> &nbsp;", "not an HTML entity"),
        ("<b>{tag}</b> <i>x</i> 3 < 4", "a lone “<”"),
        ("<b></b> <i>x</i>", "placeholder {tag} left out"),
        ("<b>{tag:>99}</b> <i>x</i>", "unknown placeholder {tag:>99}"),
        ("<b>{0}</b> <i>x</i>", "unknown placeholder {0}"),
        ("<b>{tag}</b> <i>x</i> {", "braces do not pair up"),
        ('<b>{tag}</b> <i onclick="x">x</i>', "adds <i onclick"),
    ],
)
def test_a_translation_keeps_the_markup_and_placeholders_of_its_source(
    translation: str, problem: str | None
) -> None:
    source = "<b>{tag}</b> <i>words</i>"
    if problem is None:
        check_translation(source, translation)
        return
    with pytest.raises(TranslationProblem, match=problem.replace("{", r"\{").replace("(", r"\(")):
        check_translation(source, translation)


def test_a_plural_form_may_leave_the_count_out_but_nothing_else() -> None:
    check_translation(
        "{count} stories in {tag}", "one story in {tag}", may_omit=frozenset({"count"})
    )
    with pytest.raises(TranslationProblem, match="left out"):
        check_translation(
            "{count} stories in {tag}", "{count} stories", may_omit=frozenset({"count"})
        )


def test_plural_entries_need_every_form_of_their_language(
    locale: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = catalogue_path(locale, "ru")
    path.write_text(
        textwrap.dedent(
            f"""\
            msgid ""
            msgstr ""
            "Plural-Forms: {RUSSIAN_PLURALS}\\n"

            msgid "burst_heading"
            msgid_plural "burst_heading"
            msgstr[0] "{{count}} новость"
            msgstr[1] "{{count}} новости"

            msgid "unfollowed"
            msgid_plural "unfollowed"
            msgstr[0] "{{tags}}"
            msgstr[1] "{{tags}}"
            msgstr[2] "{{tags}}"
            """
        ),
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="bot.texts.catalogue"):
        russian = load_catalogues(locale).translations["ru"]
    assert russian.messages == {}
    assert "burst_heading is not used, English is: it has 2 forms; Plural-Forms says 3" in (
        caplog.text
    )
    assert "unfollowed is not used, English is: it must be a single message" in caplog.text


def test_an_unreadable_catalogue_leaves_its_language_out(
    locale: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = catalogue_path(locale, "de")
    broken.parent.mkdir(parents=True)
    broken.write_text('msgid "start"\nmsgstr "Willkommen"\nnot po at all\n', encoding="utf-8")
    (locale / "deu" / "LC_MESSAGES").mkdir(parents=True)
    (locale / "deu" / "LC_MESSAGES" / "tagwire.po").write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.texts.catalogue"):
        assert load_catalogues(locale).languages == ("en", "ru")
    assert len(caplog.records) == 2


def test_a_fault_in_the_english_catalogue_stops_the_start(locale: Path) -> None:
    write_catalogue(locale, "en", {"start": "<b>Welcome"})
    with pytest.raises(CatalogueError, match="never closed"):
        load_catalogues(locale)


def test_the_template_holds_every_english_message_as_it_is_now() -> None:
    with translating.TEMPLATE.open("rb") as file:
        shipped = read_po(file)
    written = BytesIO()
    write_po(written, translating.template_catalog(), width=translating.WIDTH)
    written.seek(0)
    expected = read_po(written)
    assert [(m.id, m.auto_comments) for m in shipped if m.id] == [
        (m.id, m.auto_comments) for m in expected if m.id
    ], "run: python -m bot.texts.translating template"


def test_the_check_command_passes_russian_and_names_each_rejected_message(
    locale: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert translating.main(["check"]) == 0
    assert "ru: 263 of 263 messages usable, nplurals=3" in capsys.readouterr().out
    path = write_catalogue(locale, "de", HOSTILE)
    assert translating.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: followed: not used: its markup differs from the English: adds" in out
    assert f"{path}: unfollowed: not used: unknown placeholder {{token}}" in out
    assert f"{path}: language_name: missing" in out


def test_russian_replies_are_the_shipped_catalogue_s() -> None:
    ru = catalogue_path(LOCALE_DIRECTORY, "ru").read_text(encoding="utf-8")
    assert "Plural-Forms: nplurals=3;" in ru
    assert render("burst_heading", "ru", count=21) == "Новых историй: 21"
