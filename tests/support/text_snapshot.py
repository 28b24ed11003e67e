"""Every message key rendered in every language, as the "before and after" fixture of issue 19.

`snapshot()` renders each key with `render` (Telegram HTML) and `plain` with representative
values: text that needs escaping for every placeholder, an `Html` value once, and, for a key
that takes a count, each of the counts that tell plural rules apart. Run it to rewrite the
fixture — only when a wording is meant to change:

    .venv/bin/python -m tests.support.text_snapshot
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

from bot.texts.replies import Html, plain, render

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "texts_snapshot.json"
# 0, 1, 2-4, 5-20, 11-14 and their tens: the cases where the plural rules of English and
# Russian (and most others) pick different forms.
COUNTS = (0, 1, 2, 3, 5, 11, 21, 22, 25, 101)
COUNT_PLACEHOLDERS = frozenset({"count", "n"})


def placeholders(template: str) -> list[str]:
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return sorted(set(names))


def value_for(name: str) -> str:
    # Every character that must be escaped, so the snapshot pins the escaping down as well.
    return f"<{name}> & “{name}”"


def cases(names: list[str]) -> dict[str, dict[str, object]]:
    base: dict[str, object] = {name: value_for(name) for name in names}
    found: dict[str, dict[str, object]] = {"text": base}
    if names:
        found["html"] = {name: f"<b>{name}</b>" for name in names}
    for counted in COUNT_PLACEHOLDERS.intersection(names):
        for count in COUNTS:
            found[f"{counted}={count}"] = {**base, counted: count}
    return found


def snapshot(templates: dict[str, dict[str, str]]) -> dict[str, object]:
    """{language: {key: {case: {"values", "html_values", "render", "plain"}}}}."""
    result: dict[str, object] = {}
    for language, table in sorted(templates.items()):
        per_key: dict[str, object] = {}
        for key in sorted(table):
            rendered: dict[str, object] = {}
            for case, values in cases(placeholders(table[key])).items():
                as_html = case == "html"
                given = {name: Html(str(v)) if as_html else v for name, v in values.items()}
                rendered[case] = {
                    "values": values,
                    "html_values": as_html,
                    "render": str(render(key, language, **given)),
                    "plain": plain(key, language, **given),
                }
            per_key[key] = rendered
        result[language] = per_key
    return result


def main() -> None:
    from bot.texts.replies import MESSAGES

    templates = {language: dict(table) for language, table in MESSAGES.items()}
    text = json.dumps(snapshot(templates), ensure_ascii=False, indent=1, sort_keys=True)
    FIXTURE.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(f"{FIXTURE}: {sum(len(t) for t in templates.values())} messages\n")


if __name__ == "__main__":
    main()
