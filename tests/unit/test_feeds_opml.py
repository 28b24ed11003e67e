"""OPML for operators: `tagwire feeds export` and `tagwire feeds import` (bot/intake/opml.py),
the format read and written directly, then the commands as an operator runs them, on both
backends."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import InvalidTag
from bot.intake.feeds_cli import check_feed_url
from bot.intake.opml import (
    MAX_OPML_BYTES,
    OpmlError,
    OpmlFeed,
    category_tags,
    plan_import,
    read_opml,
    unwritable_tag,
    write_opml,
)
from bot.tags import parse_tag
from storage import open_store
from storage.models import Feed
from storage.url import DatabaseTarget
from tests.support.commands import environment, run_tagwire
from tests.support.harness import ROOT

CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def feed(url: str, *tags: str, number: int = 1) -> Feed:
    return Feed(
        id=number,
        url=url,
        tags=tuple(tags),
        etag=None,
        last_modified=None,
        primed=False,
        created_at=0.0,
    )


def opml(body: str, head: str = "<head><title>t</title></head>") -> bytes:
    return (
        f'<?xml version="1.0"?>\n<opml version="2.0">{head}<body>\n{body}\n</body></opml>'.encode()
    )


def read(data: bytes) -> list[tuple[str, tuple[str, ...]]]:
    return [(found.url, found.tags) for found in read_opml(data, check_url=check_feed_url).feeds]


def refusal(data: bytes) -> str:
    with pytest.raises(OpmlError) as refused:
        read_opml(data, check_url=check_feed_url)
    message = str(refused.value)
    assert "\n" not in message
    return message


# The format


@pytest.mark.parametrize(
    ("category", "tags"),
    [
        ("Japan", ["Japan"]),
        ("Japan, Kuril Islands,,", ["Japan", "Kuril Islands"]),
        ("/News/Japan", ["News", "Japan"]),
        ("/Harvard/Berkman,/Politics", ["Harvard", "Berkman", "Politics"]),
        ("AC/DC", ["AC/DC"]),
        ("", []),
        (" , / ,//", []),
    ],
)
def test_a_category_gives_its_tags_and_a_path_a_tag_for_each_level(
    category: str, tags: list[str]
) -> None:
    assert category_tags(category) == tags


def test_nested_outlines_are_read_and_outlines_without_a_url_skipped_and_counted() -> None:
    data = opml(
        """
        <outline text="Asia">
          <outline text="Japan" type="rss" xmlUrl="https://a.example.com/rss" category="Japan"/>
          <outline text="Deeper"><outline type="rss" xmlurl=" https://b.example.com/atom "
              category="/World/Asia, Korea"/></outline>
          <outline text="A note, no feed"/>
          <outline text="A link" type="link" url="https://c.example.com/"/>
        </outline>
        <outline text="Empty folder"></outline>
        <outline text="Folder with an empty xmlUrl" xmlUrl=""/>
        <outline type="rss" xmlUrl="https://a.example.com/rss" category="japan, Tokyo"/>
        """
    )
    found = read_opml(data, check_url=check_feed_url)
    assert [(one.url, one.tags, one.line) for one in found.feeds] == [
        # A URL given twice is one feed, with the tags of both (each once).
        ("https://a.example.com/rss", ("Japan", "Tokyo"), 5),
        ("https://b.example.com/atom", ("World", "Asia", "Korea"), 6),
    ]
    assert found.skipped == 4


def test_outlines_outside_the_body_are_not_feeds() -> None:
    head = '<head><outline type="rss" xmlUrl="https://head.example.com/rss"/></head>'
    assert read(opml('<outline type="rss" xmlUrl="https://a.example.com/rss"/>', head)) == [
        ("https://a.example.com/rss", ())
    ]


def test_opml_1_and_a_declared_encoding_are_read() -> None:
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><opml version="1.0"><body>'
        '<outline xmlUrl="https://a.example.com/caf\xe9" category="Caf\xe9"/></body></opml>'
    ).encode("latin-1")
    assert read(data) == [("https://a.example.com/café", ("Café",))]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b'{"feeds": []}', "not XML: not well-formed (invalid token) at line 1, column 1"),
        (b"<opml><body>", "not XML: no element found at line 1, column 13"),
        (b"\xff\xfe\x00<\x00o", "not XML"),
        (b'<?xml version="1.0"?><rss version="2.0"/>', "not OPML: the document is <rss>"),
        (b"<!DOCTYPE html><html></html>", "not OPML: the document is <!DOCTYPE html>"),
        (b'<opml version="2.0"><head/></opml>', "not OPML: <opml> has no <body>"),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]>'
            b'<opml version="2.0"><body><outline xmlUrl="https://x.example/&c;"/></body></opml>',
            "the file has a DOCTYPE: OPML needs none",
        ),
        (
            b'<!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml><body/></opml>',
            "the file has a DOCTYPE",
        ),
        (
            b'<opml><body><outline xmlUrl="https://x.example/&xxe;"/></body></opml>',
            "not XML: undefined entity at line 1, column 13",
        ),
        (
            opml('<outline type="rss" xmlUrl="feed://a.example.com/rss"/>'),
            "line 3: xmlUrl 'feed://a.example.com/rss': the URL must start with http:// or "
            "https://",
        ),
        (
            opml('<outline xmlUrl="javascript:alert(1)"/>\n<outline xmlUrl="https:///x"/>'),
            "line 3: xmlUrl 'javascript:alert(1)': the URL must start with http:// or https:// "
            "(and 1 more problem)",
        ),
        (
            opml('<outline xmlUrl="https://a.example.com/rss" category="Japan,!!!"/>'),
            "line 3: category '!!!': a tag needs at least one letter, digit or emoji",
        ),
        (
            opml(f'<outline xmlUrl="https://a.example.com/rss" category="{"x" * 65}"/>'),
            "a tag has at most 64 characters",
        ),
        (
            opml(
                '<outline xmlUrl="https://a.example.com/rss" category="'
                + ",".join(f"t{n}" for n in range(21))
                + '"/>'
            ),
            "line 3: https://a.example.com/rss has 21 tags; a feed has at most 20",
        ),
        (b"<opml><body>" + b" " * MAX_OPML_BYTES + b"</body></opml>", "larger than 5 MB"),
    ],
)
def test_a_file_that_cannot_be_imported_is_one_line_naming_the_problem(
    data: bytes, problem: str
) -> None:
    assert problem in refusal(data)


def test_a_deeply_nested_file_is_read_without_recursion() -> None:
    depth = 50_000
    data = opml(
        "<outline>" * depth
        + '<outline xmlUrl="https://deep.example.com/rss"/>'
        + "</outline>" * depth
    )
    assert read(data) == [("https://deep.example.com/rss", ())]


def test_the_export_is_opml_2_with_a_category_per_feed() -> None:
    document = write_opml(
        [
            feed("https://a.example.com/rss?a=1&b=<2>", "Japan", "Kuril Islands"),
            feed('https://b.example.com/"atom"', number=2),
        ],
        created=CREATED,
    ).decode()
    assert document.startswith("<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert "<dateCreated>Sun, 01 Nov 2026 12:00:00 GMT</dateCreated>" in document
    assert (
        '<outline type="rss" text="https://a.example.com/rss?a=1&amp;b=&lt;2&gt;" '
        'xmlUrl="https://a.example.com/rss?a=1&amp;b=&lt;2&gt;" category="Japan,Kuril Islands" />'
    ) in document
    assert (
        '<outline type="rss" text="https://b.example.com/&quot;atom&quot;" '
        'xmlUrl="https://b.example.com/&quot;atom&quot;" />'
    ) in document


def test_what_xml_cannot_hold_is_percent_encoded_in_a_url_and_said_of_a_tag() -> None:
    document = write_opml([feed("https://a.example.com/\x01rss", "Ja\ufffepan")], created=CREATED)
    assert read(document) == [("https://a.example.com/%01rss", ("Japan",))]
    assert unwritable_tag("Ja\ufffepan") is not None


@pytest.mark.parametrize(
    ("tag", "reads_back_as"), [("a,b", ("a", "b")), ("/usr", ("usr",)), ("AC/DC", ("AC/DC",))]
)
def test_a_tag_a_category_cannot_hold_is_said_so(tag: str, reads_back_as: tuple[str, ...]) -> None:
    document = write_opml([feed("https://a.example.com/rss", tag)], created=CREATED)
    assert read(document) == [("https://a.example.com/rss", reads_back_as)]
    assert (unwritable_tag(tag) is None) == (reads_back_as == (tag,))


def _writable_tag(raw: str) -> bool:
    try:
        name = parse_tag(raw).name
    except InvalidTag:
        return False
    return unwritable_tag(name) is None


tag_names = (
    st.text(min_size=1, max_size=20).filter(_writable_tag).map(lambda raw: parse_tag(raw).name)
)
url_paths = st.text(
    # Whitespace is refused in a feed's URL; noncharacters (Cn) are percent-encoded on export,
    # which test_what_xml_cannot_hold… covers.
    st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Zs", "Zl", "Zp")),
    max_size=30,
)


@st.composite
def feed_lists(draw: st.DrawFn) -> list[Feed]:
    paths = draw(st.lists(url_paths, max_size=8, unique=True))
    feeds = []
    for number, path in enumerate(paths, start=1):
        # Each key once, in its first spelling, as `tagwire feeds add` keeps them.
        kept: dict[str, str] = {}
        for name in draw(st.lists(tag_names, max_size=5)):
            kept.setdefault(parse_tag(name).key, name)
        feeds.append(feed(f"https://feeds.example.com/{path}", *kept.values(), number=number))
    return feeds


@settings(max_examples=200, deadline=None)
@given(feed_lists())
def test_every_export_reads_back_as_the_same_feeds_and_tags(feeds: list[Feed]) -> None:
    document = write_opml(feeds, created=CREATED)
    expected = [(one.url, one.tags) for one in feeds if check_feed_url(one.url) is None]
    assert read(document) == expected


def test_the_plan_says_what_is_new_what_changes_and_what_is_already_there() -> None:
    known = [feed("https://a.example.com/rss", "Japan"), feed("https://b.example.com/rss")]
    incoming = [
        OpmlFeed("https://a.example.com/rss", ("Japan",), 1),
        OpmlFeed("https://b.example.com/rss", ("World",), 2),
        OpmlFeed("https://c.example.com/rss", (), 3),
    ]
    plan = plan_import(known, incoming)
    assert [one.url for one in plan.added] == ["https://c.example.com/rss"]
    assert [one.url for one in plan.updated] == ["https://b.example.com/rss"]
    assert [one.url for one in plan.unchanged] == ["https://a.example.com/rss"]


# The commands


def setting(database: DatabaseTarget) -> str:
    """TAGWIRE_DATABASE for `database`: the SQLite file, or the PostgreSQL URL."""
    return database.require_dsn() if database.is_postgres else str(database.require_path())


def tagwire(
    database: DatabaseTarget, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_tagwire(
        *args, input=stdin, env=environment(TAGWIRE_DATABASE=setting(database)), cwd=ROOT
    )


async def feeds_in(database: DatabaseTarget) -> list[tuple[str, tuple[str, ...]]]:
    store = await open_store(database)
    try:
        return [(one.url, one.tags) for one in await store.list_feeds()]
    finally:
        await store.close()


async def test_export_then_import_elsewhere_brings_the_same_feeds_and_again_changes_nothing(
    database: DatabaseTarget, tmp_path: Path
) -> None:
    source = DatabaseTarget.sqlite(tmp_path / "source.db")
    for args in (
        ["https://a.example.com/rss", "--tag", "Japan", "--tag", "Kuril Islands"],
        ["https://b.example.com/atom?x=1&y=2"],
        ["https://c.example.com/феед", "--tag", "Россия", "--tag", "AC/DC"],
    ):
        assert tagwire(source, "feeds", "add", *args).returncode == 0
    exported = tagwire(source, "feeds", "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr == ""
    file = tmp_path / "feeds.opml"
    file.write_text(exported.stdout)

    first = tagwire(database, "feeds", "import", str(file))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("added 3, updated 0, unchanged 0, skipped 0 without an xmlUrl;")
    assert first.stdout.count("\n") == 1
    assert await feeds_in(database) == await feeds_in(source)

    again = tagwire(database, "feeds", "import", "-", stdin=exported.stdout)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "added 0, updated 0, unchanged 3, skipped 0 without an xmlUrl\n"
    assert await feeds_in(database) == await feeds_in(source)


async def test_import_sets_the_tags_of_a_known_feed_and_adds_the_new(
    database: DatabaseTarget, tmp_path: Path
) -> None:
    assert (
        tagwire(database, "feeds", "add", "https://a.example.com/rss", "--tag", "Old").returncode
        == 0
    )
    assert tagwire(database, "feeds", "add", "https://b.example.com/rss").returncode == 0
    file = tmp_path / "feeds.opml"
    file.write_bytes(
        opml(
            '<outline text="folder">'
            '<outline type="rss" xmlUrl="https://a.example.com/rss" category="/News/Japan"/>'
            '<outline type="rss" xmlUrl="https://b.example.com/rss"/>'
            '<outline type="rss" xmlUrl="https://c.example.com/rss" category="#Asia"/>'
            '<outline text="a note"/></outline>'
        )
    )
    result = tagwire(database, "feeds", "import", str(file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 1, updated 1, unchanged 1, skipped 1 without an xmlUrl;")
    assert await feeds_in(database) == [
        ("https://a.example.com/rss", ("News", "Japan")),
        ("https://b.example.com/rss", ()),
        ("https://c.example.com/rss", ("Asia",)),
    ]


async def test_a_file_with_a_problem_imports_nothing_in_one_line_with_status_2(
    database: DatabaseTarget, tmp_path: Path
) -> None:
    file = tmp_path / "feeds.opml"
    file.write_bytes(
        opml(
            '<outline xmlUrl="https://a.example.com/rss" category="Japan"/>\n'
            '<outline xmlUrl="ftp://b.example.com/rss"/>'
        )
    )
    result = tagwire(database, "feeds", "import", str(file))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"tagwire: {file}: line 4: xmlUrl 'ftp://b.example.com/rss': the URL must start with "
        "http:// or https://; nothing imported\n"
    )
    assert await feeds_in(database) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\x01binary junk\xff", "tagwire: standard input: not XML: "),
        (
            b'<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body/></opml>',
            "tagwire: standard input: the file has a DOCTYPE",
        ),
        (
            b"<opml><body>" + b"<outline/>" * (MAX_OPML_BYTES // 10),
            "tagwire: standard input: the file is larger than 5 MB",
        ),
    ],
)
def test_hostile_input_on_standard_input_is_refused_without_a_traceback(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    file = tmp_path / "hostile.opml"
    file.write_bytes(content)
    database = DatabaseTarget.sqlite(tmp_path / "t.db")
    with file.open("rb") as stdin:
        result = run_tagwire(
            "feeds",
            "import",
            "-",
            stdin=stdin,
            env=environment(TAGWIRE_DATABASE=setting(database)),
            cwd=ROOT,
        )
    stderr = result.stderr
    assert result.returncode == 2
    assert stderr.startswith(problem), stderr
    assert stderr.endswith("; nothing imported\n")
    assert stderr.count("\n") == 1


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = tagwire(DatabaseTarget.sqlite(tmp_path / "t.db"), "feeds", "import", "nope.opml")
    assert result.returncode == 2
    assert result.stderr == "tagwire: cannot read nope.opml: No such file or directory\n"


def test_export_warns_of_a_tag_that_will_not_read_back(tmp_path: Path) -> None:
    database = DatabaseTarget.sqlite(tmp_path / "t.db")
    assert (
        tagwire(database, "feeds", "add", "https://a.example.com/rss", "--tag", "a,b").returncode
        == 0
    )
    result = tagwire(database, "feeds", "export")
    assert result.returncode == 0
    assert 'category="a,b"' in result.stdout
    assert result.stderr == (
        "tagwire: warning: https://a.example.com/rss: tag 'a,b' has a comma, which separates "
        "categories; it will not read back as one tag\n"
    )
