"""The "before and after" test of issue 19: every message key, in every language, renders
exactly as the fixture recorded before the texts moved into gettext catalogues."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.texts.replies import Html, plain, render
from tests.support.text_snapshot import FIXTURE

SNAPSHOT: dict[str, dict[str, dict[str, dict[str, Any]]]] = json.loads(
    FIXTURE.read_text(encoding="utf-8")
)


def test_the_snapshot_covers_every_language_and_plural_count() -> None:
    assert set(SNAPSHOT) == {"en", "ru"}
    assert len(SNAPSHOT["en"]) == len(SNAPSHOT["ru"]) > 250
    assert "count=21" in SNAPSHOT["ru"]["burst_heading"]


@pytest.mark.parametrize("language", sorted(SNAPSHOT))
def test_every_message_renders_byte_for_byte_as_before(language: str) -> None:
    changed = []
    for key, cases in SNAPSHOT[language].items():
        for case, expected in cases.items():
            values = {
                name: Html(str(value)) if expected["html_values"] else value
                for name, value in expected["values"].items()
            }
            rendered = render(key, language, **values)
            if (rendered, plain(key, language, **values)) != (
                expected["render"],
                expected["plain"],
            ):
                changed.append(f"{key} [{case}]: {rendered!r}")
    assert not changed, "\n".join(changed)
