"""Records with numbers longer than Python converts (4300 digits) are rejected one by one."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest

from bot.intake.ingest import Ingestor, parse_json, read_records
from storage.sqlite import SqliteStore

HUGE = "7" * 4301


def record(number: int) -> str:
    return json.dumps(
        {"url": f"https://x.example/{number}", "title": f"Story {number}", "tags": ["Japan"]}
    )


@pytest.fixture
async def memory_store() -> AsyncIterator[SqliteStore]:
    db = await SqliteStore.open(":memory:")
    try:
        yield db
    finally:
        await db.close()


async def test_json_lines_with_a_huge_number_on_line_2_keep_lines_1_and_3(
    memory_store: SqliteStore,
) -> None:
    text = "\n".join([record(1), record(2)[:-1] + f', "n": {HUGE}}}', record(3)])
    report = await Ingestor(memory_store).ingest(read_records(io.StringIO(text)))
    assert report.created == 2
    assert [(r.position, r.field) for r in report.rejections] == [("line 2", "json")]
    assert "4300 digits" in report.rejections[0].reason


@pytest.mark.parametrize(
    "text",
    [
        f'{{{record(1)[1:-1]}, "n": {HUGE}}}',  # one line, the first
        f"[{record(1)},\n-{HUGE}]",  # an array
        f'{{\n"n": {HUGE}\n}}',  # one object over several lines
        "[" * 100_000,  # nested too deeply
    ],
)
async def test_other_shapes_with_huge_numbers_are_reported_not_raised(
    memory_store: SqliteStore, text: str
) -> None:
    report = await Ingestor(memory_store).ingest(read_records(io.StringIO(text)))
    assert report.rejected >= 1
    assert report.rejections[0].field == "json"


def test_parse_json_says_where_the_huge_number_is() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json('{"a": 1,\n "b": ' + HUGE + "}")
    assert caught.value.lineno == 2
    assert caught.value.colno == 7
    assert "4300 digits" in caught.value.msg
    assert parse_json('{"a": 1.5e999999, "b": "' + HUGE + '"}')["b"] == HUGE
