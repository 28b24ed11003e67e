"""Following and unfollowing tags, finding a tag someone typed, suggesting what they meant."""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field

from bot.errors import InvalidTag, UnknownTag
from bot.tags import TagName, parse_tag, split_tag_list
from bot.texts.plain import clean_text
from storage.base import Store
from storage.models import FollowOutcome, FollowResult, Tag
from storage.words import FollowWords, fold, has_word_characters

MAX_TAGS_PER_CHAT = 100
SUGGESTIONS = 3
# New tags (without stories) whose answer line offers suggestions; the rest are only named,
# so only these are searched for.
NEW_TAGS_WITH_SUGGESTIONS = 3
_CANDIDATES = 300
# Words inside one follow (`only` and `except` together), and the length of one.
MAX_FOLLOW_WORDS = 20
MAX_WORD_LENGTH = 64
# `/follow Japan only earthquake, tsunami except baseball` (or, in Russian, только / кроме).
_ONLY = frozenset({"only", "только"})
_SKIP = frozenset({"except", "кроме"})
_KEYWORD = re.compile(r"(?<!\w)(only|except|только|кроме)(?!\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WordsProblem:
    """Why the words of a /follow were refused (nothing was followed): a message key and the
    words it is about."""

    key: str
    words: tuple[str, ...] = ()
    count: int = 0


@dataclass(frozen=True, slots=True)
class FollowRequest:
    """A /follow's text taken apart: the tags, and the words when any were given."""

    tags: str
    words: FollowWords | None = None
    problem: WordsProblem | None = None


def _word_list(text: str) -> tuple[list[str], list[str]]:
    """(folded words, rejected as typed) of a comma-separated list."""
    words: list[str] = []
    rejected: list[str] = []
    for raw in text.replace("\n", ",").split(","):
        cleaned = clean_text(raw)
        word = " ".join(fold(cleaned).split())
        if not word:
            continue
        if len(word) > MAX_WORD_LENGTH or not has_word_characters(word):
            rejected.append(cleaned[:40])
        elif word not in words:
            words.append(word)
    return words, rejected


def parse_words(text: str) -> tuple[FollowWords | None, WordsProblem | None]:
    """The words of `only … except …` (either, or both, in any order)."""
    parts = _KEYWORD.split(text)
    # parts: [before, keyword, words, keyword, words, ...]; `before` is empty here.
    only: list[str] = []
    skip: list[str] = []
    rejected: list[str] = []
    for keyword, listed in zip(parts[1::2], parts[2::2], strict=True):
        words, bad = _word_list(listed)
        rejected.extend(bad)
        if not words and not bad:
            return None, WordsProblem("words_missing", (keyword.casefold(),))
        target = only if keyword.casefold() in _ONLY else skip
        target.extend(word for word in words if word not in target)
    if rejected:
        return None, WordsProblem("words_invalid", tuple(rejected))
    both = [word for word in only if word in skip]
    if both:
        return None, WordsProblem("words_both", tuple(both))
    if len(only) + len(skip) > MAX_FOLLOW_WORDS:
        return None, WordsProblem("words_too_many", count=len(only) + len(skip))
    return FollowWords(tuple(only), tuple(skip)), None


def parse_follow(text: str) -> FollowRequest:
    """`Japan, Sports only earthquake except baseball` → the tags and their words."""
    match = _KEYWORD.search(text)
    if match is None:
        return FollowRequest(text)
    tags = text[: match.start()]
    if not tags.strip(" ,"):
        return FollowRequest("", problem=WordsProblem("words_no_tag"))
    words, problem = parse_words(text[match.start() :])
    return FollowRequest(tags, words, problem)


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    raw: str
    reason: str
    # The reason's key in the message table.
    key: str = "tag_reason_empty"


@dataclass(slots=True)
class FollowReport:
    followed: list[Tag] = field(default_factory=list)
    already: list[Tag] = field(default_factory=list)
    over_limit: list[Tag] = field(default_factory=list)
    invalid: list[InvalidEntry] = field(default_factory=list)
    # Tags nobody's story has used yet, each with the existing tags it may have meant (looked
    # for only for the first NEW_TAGS_WITH_SUGGESTIONS; empty for the others).
    without_stories: list[tuple[Tag, list[Tag]]] = field(default_factory=list)
    # The words given with the tags (set on those followed and already followed).
    words: FollowWords | None = None
    # Why nothing was followed: the words were wrong.
    problem: WordsProblem | None = None


@dataclass(slots=True)
class UnfollowReport:
    removed: list[Tag] = field(default_factory=list)
    not_followed: list[str] = field(default_factory=list)
    invalid: list[InvalidEntry] = field(default_factory=list)


def parse_tags(text: str) -> tuple[list[TagName], list[InvalidEntry]]:
    names: list[TagName] = []
    invalid: list[InvalidEntry] = []
    for raw in split_tag_list(text):
        try:
            name = parse_tag(raw)
        except InvalidTag as exc:
            invalid.append(InvalidEntry(clean_text(raw), str(exc), exc.key))
            continue
        if all(name.key != seen.key for seen in names):
            names.append(name)
    return names, invalid


class FollowingService:
    def __init__(self, store: Store, max_tags: int = MAX_TAGS_PER_CHAT) -> None:
        self._store = store
        self.max_tags = max_tags

    async def follow(
        self, chat_id: int, text: str, thread_id: int = 0, *, with_words: bool = True
    ) -> FollowReport:
        """Follow the tags of `text`; with `with_words`, `only …`/`except …` after them are
        the words of those follows (a deep link names a tag and nothing else)."""
        request = parse_follow(text) if with_words else FollowRequest(text)
        if request.problem is not None:
            return FollowReport(problem=request.problem)
        names, invalid = parse_tags(request.tags)
        report = FollowReport(invalid=invalid, words=request.words)
        if not names:
            return report
        results = await self._store.follow(
            chat_id,
            [(name.name, name.key) for name in names],
            self.max_tags,
            time.time(),
            thread_id,
            words=request.words,
        )
        await self._sort_results(report, results)
        return report

    async def follow_ids(
        self, chat_id: int, tag_ids: list[int], thread_id: int = 0
    ) -> list[FollowResult]:
        tags = await self._store.get_tags(tag_ids)
        if not tags:
            return []
        return await self._store.follow(
            chat_id,
            [(tag.name, tag.key) for tag in tags.values()],
            self.max_tags,
            time.time(),
            thread_id,
        )

    async def _sort_results(self, report: FollowReport, results: list[FollowResult]) -> None:
        for result in results:
            if result.outcome is FollowOutcome.ALREADY:
                report.already.append(result.tag)
            elif result.outcome is FollowOutcome.LIMIT:
                report.over_limit.append(result.tag)
            else:
                report.followed.append(result.tag)
                if result.tag.story_count == 0:
                    wanted = len(report.without_stories) < NEW_TAGS_WITH_SUGGESTIONS
                    close = await self.suggest(result.tag.key) if wanted else []
                    report.without_stories.append((result.tag, close))

    async def unfollow(self, chat_id: int, text: str, thread_id: int = 0) -> UnfollowReport:
        names, invalid = parse_tags(text)
        report = UnfollowReport(invalid=invalid)
        if not names:
            return report
        known = await self._store.find_tags([name.key for name in names])
        removed = await self._store.unfollow(chat_id, [tag.id for tag in known.values()], thread_id)
        removed_keys = {tag.key for tag in removed}
        report.removed = removed
        report.not_followed = [name.name for name in names if name.key not in removed_keys]
        return report

    async def resolve(self, raw: str) -> Tag:
        """The known tag `raw` names, or UnknownTag with what it might have meant."""
        name = parse_tag(raw)
        found = await self._store.find_tags([name.key])
        tag = found.get(name.key)
        if tag is None or (tag.story_count == 0 and tag.follower_count == 0):
            raise UnknownTag(name.name, await self.suggest(name.key))
        return tag

    async def suggest(self, key: str) -> list[Tag]:
        """Existing tags close to `key`: same beginning, containing it, or spelled alike."""
        candidates = await self._store.tag_names_like(key, _CANDIDATES)
        by_key = {tag.key: tag for tag in candidates if tag.key != key}
        close = difflib.get_close_matches(key, list(by_key), n=SUGGESTIONS, cutoff=0.6)
        picked = [by_key[match] for match in close]
        for tag in candidates:
            if len(picked) >= SUGGESTIONS:
                break
            if (
                tag.key != key
                and tag not in picked
                and (key in tag.key or (len(tag.key) >= 3 and tag.key in key))
            ):
                picked.append(tag)
        return picked
