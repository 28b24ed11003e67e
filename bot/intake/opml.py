"""OPML 2.0 for operators: the feeds as `tagwire feeds export` writes them and `tagwire feeds
import` reads them (http://opml.org/spec2.opml).

Each feed is an `<outline type="rss" text=… xmlUrl=… category="Japan,Asia">`: its tags are the
outline's `category`, comma-separated as the spec says. A category in the spec's path form
(`/News/Japan`) gives a tag for each level, `News` and `Japan`: every level is a topic a
reader may follow. Outlines may nest (other readers export folders); a folder's own title is not
a tag. An outline with neither an `xmlUrl` nor outlines inside (a note, a link) is skipped and
counted.

A file is read whole or not at all: the first problem found (not XML, not OPML, a DOCTYPE, a
URL that is not http(s), a category that cannot be a tag) is one line naming where it is, and
nothing is imported. A DOCTYPE is refused outright: OPML needs none, and its entities are how
an XML file expands without end ("billion laughs") or reads files it should not (external
entities). The reader is expat with its DOCTYPE handler raising before any declaration is read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from bot.errors import InvalidTag
from bot.intake.validation import MAX_TAGS
from bot.tags import parse_tag
from storage.models import Feed

# An export of 1 000 feeds is ~150 KB; 5 MB is ~30 000 outlines, more feeds than one bot polls,
# and bounds the memory and time of reading a hostile file.
MAX_OPML_BYTES = 5 * 1024 * 1024
_SPEC = "http://opml.org/spec2.opml"
# What XML 1.0 cannot hold in an attribute, even escaped; a feed URL so written reaches the
# server percent-encoded anyway.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class OpmlError(ValueError):
    """Why a file cannot be imported, in one line (where, and what)."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """A feed as a file gives it: its URL, its tags (parsed, each once) and the line it starts."""

    url: str
    tags: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class OpmlFeeds:
    """What a file holds: its feeds in order (a URL given twice is one feed with the tags of
    both) and how many outlines were skipped for having no xmlUrl."""

    feeds: tuple[OpmlFeed, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What importing a file changes: feeds to add, feeds whose tags change, the rest."""

    added: tuple[OpmlFeed, ...]
    updated: tuple[OpmlFeed, ...]
    unchanged: tuple[OpmlFeed, ...]


def category_tags(category: str) -> list[str]:
    """The tag names of a `category` attribute, as written: `Japan, Asia` → Japan, Asia;
    `/News/Japan` → News, Japan. Each still needs parse_tag."""
    names: list[str] = []
    for part in category.split(","):
        text = part.strip()
        if text.startswith("/"):
            names.extend(level.strip() for level in text.split("/") if level.strip())
        elif text:
            names.append(text)
    return names


def unwritable_tag(name: str) -> str | None:
    """Why `name` would not read back as the same tag from a category, or None."""
    if "," in name:
        return "has a comma, which separates categories"
    if name.startswith("/"):
        return "starts with “/”, which makes a category a path"
    if _NOT_XML.search(name):
        return "has a character XML cannot hold, left out"
    return None


def write_opml(feeds: Iterable[Feed], *, created: datetime) -> bytes:
    """An OPML 2.0 document (UTF-8) with an outline per feed, its tags as its category."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "tagwire feeds"
    ET.SubElement(head, "dateCreated").text = format_datetime(created.astimezone(UTC), usegmt=True)
    ET.SubElement(head, "docs").text = _SPEC
    body = ET.SubElement(root, "body")
    for feed in feeds:
        url = _NOT_XML.sub(
            lambda found: quote(found.group(), safe="", errors="surrogatepass"), feed.url
        )
        outline = ET.SubElement(body, "outline", type="rss", text=url, xmlUrl=url)
        if feed.tags:
            outline.set("category", ",".join(_NOT_XML.sub("", tag) for tag in feed.tags))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


class _Refused(Exception):
    """Raised from inside expat's handlers to stop reading at once."""


@dataclass(slots=True)
class _Outline:
    line: int
    has_url: bool
    has_children: bool = False


@dataclass(slots=True)
class _Reader:
    check_url: Callable[[str], str | None]
    parser: xml.parsers.expat.XMLParserType
    path: list[str] = field(default_factory=list)
    outlines: list[_Outline] = field(default_factory=list)
    seen_body: bool = False
    skipped: int = 0
    feeds: dict[str, tuple[int, list[str], set[str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def start(self, name: str, attributes: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if not self.path and name != "opml":
            raise _Refused(f"not OPML: the document is <{_short(name)}>, not <opml>")
        self.path.append(name)
        if self.path[:2] != ["opml", "body"]:
            return
        if len(self.path) == 2:
            self.seen_body = True
            return
        if name != "outline":
            return
        if self.outlines:
            self.outlines[-1].has_children = True
        # An empty xmlUrl (some readers write one on folders) is no xmlUrl.
        url = (_attribute(attributes, "xmlUrl") or "").strip()
        self.outlines.append(_Outline(line, has_url=bool(url)))
        if url:
            self._feed(line, url, attributes)

    def end(self, name: str) -> None:
        self.path.pop()
        if name == "outline" and self.outlines and self.path[:2] == ["opml", "body"]:
            outline = self.outlines.pop()
            if not outline.has_url and not outline.has_children:
                self.skipped += 1

    def _feed(self, line: int, url: str, attributes: dict[str, str]) -> None:
        problem = self.check_url(url)
        if problem is not None:
            self.problems.append(f"line {line}: xmlUrl {_short(url)!r}: {problem}")
            return
        _, names, keys = self.feeds.setdefault(url, (line, [], set()))
        for raw in category_tags(_attribute(attributes, "category") or ""):
            try:
                tag = parse_tag(raw)
            except InvalidTag as exc:
                self.problems.append(f"line {line}: category {_short(raw)!r}: {exc}")
                continue
            if tag.key not in keys:
                keys.add(tag.key)
                names.append(tag.name)
        if len(names) > MAX_TAGS:
            self.problems.append(
                f"line {line}: {_short(url)} has {len(names)} tags; a feed has at most {MAX_TAGS}"
            )

    def refuse_doctype(self, name: str, *_: object) -> None:
        if name.lower() != "opml":
            raise _Refused(f"not OPML: the document is <!DOCTYPE {_short(name)}>")
        raise _Refused(
            "the file has a DOCTYPE: OPML needs none, and its entities could expand without "
            "end or read local files"
        )


def _attribute(attributes: dict[str, str], name: str) -> str | None:
    """An attribute by its name in any case: `xmlUrl` is spelled `xmlurl` in the wild."""
    if name in attributes:
        return attributes[name]
    wanted = name.lower()
    return next((value for key, value in attributes.items() if key.lower() == wanted), None)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_opml(data: bytes, *, check_url: Callable[[str], str | None]) -> OpmlFeeds:
    """The feeds of an OPML file; OpmlError (one line) when it cannot be imported whole.
    `check_url` says why a URL cannot be a feed's, or None when it can."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    if not data.strip():
        raise OpmlError("the file is empty")
    parser = xml.parsers.expat.ParserCreate()
    reader = _Reader(check_url, parser)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.refuse_doctype
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(data, True)
    except _Refused as refused:
        raise OpmlError(str(refused)) from None
    except xml.parsers.expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise OpmlError(f"not XML: {xml.parsers.expat.ErrorString(exc.code)} at {where}") from None
    if not reader.seen_body:
        raise OpmlError("not OPML: <opml> has no <body>")
    if reader.problems:
        more = len(reader.problems) - 1
        others = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise OpmlError(reader.problems[0] + others)
    return OpmlFeeds(
        feeds=tuple(
            OpmlFeed(url=url, tags=tuple(names), line=line)
            for url, (line, names, _) in reader.feeds.items()
        ),
        skipped=reader.skipped,
    )


def plan_import(known: Sequence[Feed], incoming: Sequence[OpmlFeed]) -> ImportPlan:
    """Which feeds of a file are new, which change their tags (to the file's, as `tagwire feeds
    add` sets them), and which are already there as the file says."""
    by_url = {feed.url: feed for feed in known}
    added: list[OpmlFeed] = []
    updated: list[OpmlFeed] = []
    unchanged: list[OpmlFeed] = []
    for feed in incoming:
        existing = by_url.get(feed.url)
        if existing is None:
            added.append(feed)
        elif existing.tags != feed.tags:
            updated.append(feed)
        else:
            unchanged.append(feed)
    return ImportPlan(tuple(added), tuple(updated), tuple(unchanged))
