from __future__ import annotations

import io
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.intake.ingest import Ingestor, read_records, records_of
from bot.texts.formatting import render_teaser
from storage import DatabaseTarget, open_store
from storage.models import IngestStatus
from storage.sqlite import SqliteStore
from tests.conftest import add_chat, make_article
from tests.storage.direct import execute, fetch
from tests.support.nasty import NASTY_STRINGS


def record(number: int, *tags: str) -> dict[str, object]:
    return {
        "url": f"https://news.example.com/{number}",
        "title": f"Story {number}",
        "tags": list(tags) or ["Japan"],
    }


def test_json_lines_are_read_one_record_a_line() -> None:
    text = "\n".join(json.dumps(record(n)) for n in range(3)) + "\n\n"
    records = list(read_records(io.StringIO(text)))
    assert [r.position for r in records] == ["line 1", "line 2", "line 3"]


def test_a_json_array_is_read_as_records() -> None:
    records = list(read_records(io.StringIO(json.dumps([record(1), record(2)]))))
    assert [r.position for r in records] == ["record 1", "record 2"]


def test_one_pretty_printed_object_is_one_record() -> None:
    records = list(read_records(io.StringIO(json.dumps(record(1), indent=2))))
    assert len(records) == 1
    assert records[0].data["title"] == "Story 1"


def test_a_broken_line_does_not_hide_the_others() -> None:
    text = json.dumps(record(1)) + "\n{broken\n" + json.dumps(record(2)) + "\n"
    records = list(read_records(io.StringIO(text)))
    assert [r.syntax_error is None for r in records] == [True, False, True]
    assert records[1].position == "line 2"


def test_broken_first_line_then_valid_lines() -> None:
    text = "not json\n" + json.dumps(record(2)) + "\n"
    records = list(read_records(io.StringIO(text)))
    assert [r.position for r in records] == ["line 1", "line 2"]
    assert records[0].syntax_error is not None
    assert records[1].data["url"].endswith("/2")


def test_empty_input_has_no_records() -> None:
    assert list(read_records(io.StringIO("  \n\n"))) == []


async def test_valid_records_survive_bad_neighbours(store: SqliteStore) -> None:
    text = "\n".join(
        [
            json.dumps(record(1)),
            json.dumps({"url": "ftp://x", "title": "t", "tags": ["a"]}),
            "{",
            json.dumps(record(2)),
        ]
    )
    report = await Ingestor(store).ingest(read_records(io.StringIO(text)))
    assert (report.created, report.duplicates, report.rejected) == (2, 0, 2)
    assert [(r.position, r.field) for r in report.rejections] == [
        ("line 2", "url"),
        ("line 3", "json"),
    ]
    assert (await store.stats()).stories == 2


async def test_pushing_the_same_url_again_changes_nothing_and_notifies_nobody(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan")
    ingestor = Ingestor(store)
    first = await ingestor.ingest(read_records(io.StringIO(json.dumps(record(1)))))
    changed = dict(record(1), title="Changed title")
    second = await ingestor.ingest(
        read_records(io.StringIO(json.dumps(changed))), keep_records=True
    )
    assert first.recipients == 1
    assert (second.created, second.duplicates, second.recipients) == (0, 1, 0)
    assert second.records[0].result is not None
    assert second.records[0].result.status is IngestStatus.DUPLICATE
    assert (await store.get_articles([1]))[1].title == "Story 1"
    assert (await store.stats()).deliveries_pending == 1


async def refuse_deliveries(database: DatabaseTarget) -> None:
    """From now on every row written into the outbox fails, as a full disk or a lost
    connection would fail the fan-out."""
    if database.is_postgres:
        await execute(
            database,
            "CREATE FUNCTION refuse_fan_out() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'fan-out refused'; END $$",
            "CREATE TRIGGER refuse_fan_out BEFORE INSERT ON deliveries "
            "FOR EACH ROW EXECUTE FUNCTION refuse_fan_out()",
        )
    else:
        await execute(
            database,
            "CREATE TRIGGER refuse_fan_out BEFORE INSERT ON deliveries "
            "BEGIN SELECT RAISE(ABORT, 'fan-out refused'); END",
        )


async def test_a_story_whose_fan_out_fails_is_not_stored_at_all(database: DatabaseTarget) -> None:
    # The fan-out is in the story's own transaction: a story is never stored without its
    # deliveries (to be pushed again, it would be a duplicate and reach nobody).
    store = await open_store(database)
    try:
        await add_chat(store, 1, "Japan")
        await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
        await refuse_deliveries(database)
        with pytest.raises(Exception, match="fan-out refused"):
            await store.add_articles(
                [make_article(2, ["Japan", "Brazil"])], notify=True, now=time.time()
            )
    finally:
        await store.close()
    assert await fetch(database, "SELECT url FROM articles") == [(make_article(1, []).url,)]
    assert await fetch(database, "SELECT COUNT(*) FROM article_tags") == [(1,)]
    assert await fetch(database, "SELECT key, story_count FROM tags ORDER BY key") == [("japan", 1)]
    assert await fetch(database, "SELECT COUNT(*) FROM deliveries") == [(1,)]


async def test_duplicates_inside_one_batch_are_stored_once(store: SqliteStore) -> None:
    text = json.dumps(record(1)) + "\n" + json.dumps(record(1)) + "\n"
    report = await Ingestor(store).ingest(read_records(io.StringIO(text)))
    assert (report.created, report.duplicates) == (1, 1)


async def test_no_notify_stores_without_queueing(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    report = await Ingestor(store).ingest(
        read_records(io.StringIO(json.dumps(record(1)))), notify=False
    )
    assert report.created == 1
    assert (await store.stats()).deliveries_pending == 0


async def test_ingest_in_small_batches_keeps_every_record(store: SqliteStore) -> None:
    text = "\n".join(json.dumps(record(n, f"tag{n % 3}")) for n in range(25))
    queued: list[int] = []
    report = await Ingestor(store, on_queued=lambda: queued.append(1)).ingest(
        read_records(io.StringIO(text)), batch_size=4
    )
    assert report.created == 25
    assert (await store.stats()).stories == 25
    assert queued == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
nasty_text = st.sampled_from(NASTY_STRINGS) | st.text(max_size=400)
records = st.fixed_dictionaries(
    {},
    optional={
        "url": st.one_of(
            nasty_text, st.builds(lambda s: "https://x.example/" + s, nasty_text), json_values
        ),
        "title": st.one_of(nasty_text, json_values),
        "teaser": st.one_of(nasty_text, json_values),
        "tags": st.one_of(st.lists(nasty_text, max_size=25), json_values),
        "published_at": st.one_of(
            st.sampled_from(
                [
                    "2026-11-29T10:00:00+00:00",
                    "2026-11-29T10:00:00",
                    "yesterday",
                    "99999-01-01T00:00:00Z",
                ]
            ),
            json_values,
        ),
        "source": st.one_of(nasty_text, json_values),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(records | json_values, max_size=6))
async def test_any_record_is_stored_whole_or_rejected_with_a_reason(
    batch: list[object],
) -> None:
    store = await SqliteStore.open(":memory:")
    try:
        report = await Ingestor(store).ingest(records_of(batch), keep_records=True)
        assert report.created + report.duplicates + report.rejected == len(batch)
        for rejection in report.rejections:
            assert rejection.field
            assert rejection.reason
        stats = await store.stats()
        assert stats.stories == report.created
        for record in report.records:
            if record.result is not None:
                article = (await store.get_articles([record.result.article_id]))[
                    record.result.article_id
                ]
                assert article.title.strip()
                assert 1 <= len(article.tags) <= 20
                render_teaser(article)
    finally:
        await store.close()
