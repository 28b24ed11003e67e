"""Following and unfollowing tags, finding a tag someone typed, suggesting what they meant."""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field

from bot.errors import InvalidTag, UnknownTag
from bot.tags import TagName, parse_tag, split_tag_list
from bot.texts.plain import clean_text
from storage.base import Store
from storage.models import FollowOutcome, FollowResult, Tag

MAX_TAGS_PER_CHAT = 100
SUGGESTIONS = 3
_CANDIDATES = 300


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
    # Tags nobody's story has used yet, each with the existing tags it may have meant.
    without_stories: list[tuple[Tag, list[Tag]]] = field(default_factory=list)


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

    async def follow(self, chat_id: int, text: str, thread_id: int = 0) -> FollowReport:
        names, invalid = parse_tags(text)
        report = FollowReport(invalid=invalid)
        if not names:
            return report
        results = await self._store.follow(
            chat_id,
            [(name.name, name.key) for name in names],
            self.max_tags,
            time.time(),
            thread_id,
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
                    report.without_stories.append((result.tag, await self.suggest(result.tag.key)))

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
