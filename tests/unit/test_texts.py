from __future__ import annotations

import string

import pytest

from bot.emulator import parse_html
from bot.texts.plain import utf16_len
from bot.texts.replies import MESSAGES, Html, bold, join_html, render


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_has_a_russian_translation_with_the_same_placeholders() -> None:
    english, russian = MESSAGES["en"], MESSAGES["ru"]
    assert set(russian) == set(english)
    for key, template in english.items():
        assert placeholders(russian[key]) == placeholders(template), key


@pytest.mark.parametrize("language", sorted(MESSAGES))
def test_every_message_is_valid_telegram_html_with_hostile_values(language: str) -> None:
    for key, template in MESSAGES[language].items():
        values = {name: "<b>&amp; Tom & Jerry</i> 😀" for name in placeholders(template)}
        text = render(key, language, **values)
        assert utf16_len(text) <= 4096
        parse_html(text)


def test_values_are_escaped_unless_already_html() -> None:
    text = render("followed", "en", tags=bold("<Japan>"))
    assert "<b>&lt;Japan&gt;</b>" in text
    assert "&lt;x&gt;" in render("unknown_tag", "en", raw="<x>")


def test_join_html_says_how_many_more_did_not_fit() -> None:
    parts = [Html(f"<b>tag{i}</b>") for i in range(1000)]
    joined = join_html(parts, budget=200, language="ru")
    assert utf16_len(joined) < 300
    assert joined.endswith("и ещё " + str(1000 - joined.count("<b>")))
