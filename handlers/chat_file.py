"""The file /export sends and /import reads back: a chat's follows (with their words and forum
topics), muted words and settings, as versioned JSON.

    {"tagwire": 1,
     "follows": [{"tag": "Japan", "only": ["earthquake"], "except": ["drill"], "topic": 7}],
     "muted": ["baseball"],
     "settings": {"language": "en", "delivery": "daily", "digest_hour": 8, "timezone": "UTC",
                  "quiet_hours": "22:00-07:00", "link_previews": true, "combine_bursts": false,
                  "pictures": "photo"}}

Reading checks the whole file before anything is stored (`read_setup` raises FileProblem,
naming what is wrong and where); an import then replaces everything in one transaction
(Store.import_chat), so a bad file changes nothing.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.delivery.schedule import ScheduleError, format_minutes, parse_quiet_hours, parse_timezone
from bot.errors import InvalidTag
from bot.following import MAX_FOLLOW_WORDS, MAX_WORD_LENGTH
from bot.tags import parse_tag
from bot.texts.plain import clean_text
from bot.texts.replies import LANGUAGES
from handlers.mute import MAX_MUTED_WORDS
from storage.models import (
    ChatSettings,
    ChatSetup,
    DeliveryMode,
    Follow,
    ImportedFollow,
    PictureMode,
)
from storage.words import FollowWords, fold, has_word_characters

FORMAT_VERSION = 1
# A chat following 100 tags with 20 words each fits in a few kilobytes.
MAX_FILE_BYTES = 64 * 1024
FILE_NAME = "tagwire-export.json"
# Characters of a bad value an answer quotes back.
QUOTED = 40

_TOP = frozenset({"tagwire", "follows", "muted", "settings"})
_FOLLOW = frozenset({"tag", "only", "except", "topic"})
_SETTINGS = frozenset(
    {
        "language",
        "delivery",
        "digest_hour",
        "timezone",
        "quiet_hours",
        "link_previews",
        "combine_bursts",
        "pictures",
    }
)


@dataclass(frozen=True, slots=True)
class FileProblem(Exception):
    """What is wrong with a file: a message key, where (`follows[2].only`), and the value."""

    key: str
    where: str = ""
    value: str = ""
    count: int = 0
    # The limit the file went past, when that is what is wrong.
    limit: int = 0


def export_file(
    follows: Sequence[tuple[int, Follow]], muted: Sequence[str], settings: ChatSettings
) -> bytes:
    """The file of a chat's follows (each with its forum topic), muted words and settings."""
    listed: list[dict[str, Any]] = []
    for thread_id, follow in follows:
        entry: dict[str, Any] = {"tag": follow.tag.name}
        if follow.words.only:
            entry["only"] = list(follow.words.only)
        if follow.words.skip:
            entry["except"] = list(follow.words.skip)
        if thread_id:
            entry["topic"] = thread_id
        listed.append(entry)
    quiet = None
    if settings.quiet_start is not None and settings.quiet_end is not None:
        quiet = f"{format_minutes(settings.quiet_start)}-{format_minutes(settings.quiet_end)}"
    document = {
        "tagwire": FORMAT_VERSION,
        "follows": listed,
        "muted": list(muted),
        "settings": {
            "language": settings.language,
            "delivery": settings.mode.value,
            "digest_hour": settings.digest_hour,
            "timezone": settings.timezone,
            "quiet_hours": quiet,
            "link_previews": settings.link_previews,
            "combine_bursts": settings.combine_bursts,
            "pictures": settings.pictures.value,
        },
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()


def _quote(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = clean_text(text)
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


def _bad(where: str, value: object) -> FileProblem:
    return FileProblem("import_bad_value", where, _quote(value))


def _object(value: object, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, value)
    for key in value:
        if key not in allowed:
            raise FileProblem("import_unknown_field", f"{where}.{key}" if where else key)
    return value


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(where, value)
    return value


def _words(value: object, where: str) -> tuple[str, ...]:
    words: list[str] = []
    for raw in _strings(value, where):
        word = " ".join(fold(clean_text(raw)).split())
        if not word or len(word) > MAX_WORD_LENGTH or not has_word_characters(word):
            raise _bad(where, raw)
        if word not in words:
            words.append(word)
    return tuple(words)


def _muted(value: object) -> tuple[str, ...]:
    words: list[str] = []
    for raw in _strings(value, "muted"):
        # As /mute folds them (handlers/mute.py).
        word = unicodedata.normalize("NFKC", clean_text(raw)).casefold()
        if not word or len(word) > MAX_WORD_LENGTH or not any(ch.isalnum() for ch in word):
            raise _bad("muted", raw)
        if word not in words:
            words.append(word)
    if len(words) > MAX_MUTED_WORDS:
        raise FileProblem("import_too_many_muted", "muted", count=len(words), limit=MAX_MUTED_WORDS)
    return tuple(words)


def _follows(value: object, *, forum: bool, max_tags: int) -> tuple[ImportedFollow, ...]:
    if not isinstance(value, list):
        raise _bad("follows", value)
    follows: dict[tuple[int, str], ImportedFollow] = {}
    per_topic: dict[int, int] = {}
    for index, raw in enumerate(value):
        where = f"follows[{index + 1}]"
        entry = _object(raw, where, _FOLLOW)
        name = entry.get("tag")
        if not isinstance(name, str):
            raise _bad(f"{where}.tag", name)
        try:
            tag = parse_tag(name)
        except InvalidTag:
            raise _bad(f"{where}.tag", name) from None
        words = FollowWords(
            _words(entry.get("only", []), f"{where}.only"),
            _words(entry.get("except", []), f"{where}.except"),
        )
        if words.count > MAX_FOLLOW_WORDS:
            raise FileProblem(
                "import_too_many_words", where, tag.name, words.count, MAX_FOLLOW_WORDS
            )
        topic = entry.get("topic", 0)
        if isinstance(topic, bool) or not isinstance(topic, int) or not 0 <= topic < 2**31:
            raise _bad(f"{where}.topic", topic)
        if topic and not forum:
            raise FileProblem("import_topics", f"{where}.topic", tag.name)
        if (topic, tag.key) in follows:
            continue
        per_topic[topic] = per_topic.get(topic, 0) + 1
        if per_topic[topic] > max_tags:
            raise FileProblem("import_too_many_tags", "follows", count=len(value), limit=max_tags)
        follows[(topic, tag.key)] = ImportedFollow(tag.name, tag.key, words, topic)
    return tuple(follows.values())


def _flag(settings: dict[str, Any], key: str, default: bool) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        raise _bad(f"settings.{key}", value)
    return value


def _settings(value: object) -> ChatSettings:
    settings = _object(value, "settings", _SETTINGS)
    default = ChatSettings()
    language = settings.get("language")
    if language is not None and language not in LANGUAGES:
        raise _bad("settings.language", language)
    try:
        mode = DeliveryMode(settings.get("delivery", default.mode.value))
    except ValueError:
        raise _bad("settings.delivery", settings.get("delivery")) from None
    try:
        pictures = PictureMode(settings.get("pictures", default.pictures.value))
    except ValueError:
        raise _bad("settings.pictures", settings.get("pictures")) from None
    hour = settings.get("digest_hour", default.digest_hour)
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour < 24:
        raise _bad("settings.digest_hour", hour)
    zone = settings.get("timezone", default.timezone)
    try:
        if not isinstance(zone, str):
            raise ScheduleError("not a string", "")
        timezone = parse_timezone(zone)
    except ScheduleError:
        raise _bad("settings.timezone", zone) from None
    quiet = settings.get("quiet_hours")
    hours: tuple[int, int] | None = None
    if quiet is not None:
        try:
            if not isinstance(quiet, str):
                raise ScheduleError("not a string", "")
            hours = parse_quiet_hours(quiet)
        except ScheduleError:
            raise _bad("settings.quiet_hours", quiet) from None
    return ChatSettings(
        language=language,
        link_previews=_flag(settings, "link_previews", default.link_previews),
        mode=mode,
        combine_bursts=_flag(settings, "combine_bursts", default.combine_bursts),
        digest_hour=hour,
        timezone=timezone,
        quiet_start=hours[0] if hours else None,
        quiet_end=hours[1] if hours else None,
        pictures=pictures,
    )


def read_setup(data: bytes, *, forum: bool, max_tags: int) -> ChatSetup:
    """The setup a file asks for, checked through; FileProblem says what is wrong with it.
    `forum`: the chat has topics (follows may name one); `max_tags`: follows a topic may have."""
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem("import_too_big", count=len(data), limit=MAX_FILE_BYTES // 1024)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FileProblem("import_not_json") from None
    if not isinstance(document, dict) or "tagwire" not in document:
        raise FileProblem("import_not_tagwire")
    version = document["tagwire"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise FileProblem("import_version", value=_quote(version))
    _object(document, "", _TOP)
    return ChatSetup(
        follows=_follows(document.get("follows", []), forum=forum, max_tags=max_tags),
        muted=_muted(document.get("muted", [])),
        settings=_settings(document.get("settings", {})),
    )
