"""Corrections and retractions of stories already out: the one service behind `tagwire edit` /
`tagwire retract`, PATCH / DELETE /api/articles/{id}, a push with `"update": true` and the
admins' /retract. The store queues an edit of every delivered teaser in the same transaction
(storage/*_corrections.py); the leader's edit worker sends them (bot/delivery/edits.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.errors import InvalidArticle
from bot.intake.validation import validate_article
from storage.base import Store
from storage.models import Correction, NewArticle, Retraction, StoryChanges

# The fields a correction may change.
CORRECTABLE = ("title", "teaser", "tags", "image", "source")
# Stand-ins for the fields a correction leaves as they are, so that the others are checked by
# the very rules of a pushed story (bot/intake/validation.py).
_PLACEHOLDER: dict[str, Any] = {"url": "https://correction.invalid/", "title": "x", "tags": ["x"]}


def parse_changes(raw: Mapping[str, Any]) -> StoryChanges:
    """The changes in a correction's JSON object (only CORRECTABLE fields; `image` "" or null
    removes the picture); InvalidArticle naming the first problem."""
    unknown = sorted(set(raw) - set(CORRECTABLE))
    if unknown:
        raise InvalidArticle(unknown[0], f"cannot be corrected (only {', '.join(CORRECTABLE)} can)")
    given = {name: raw[name] for name in CORRECTABLE if name in raw}
    if not given:
        raise InvalidArticle("record", f"names nothing to correct ({', '.join(CORRECTABLE)})")
    drop_image = "image" in given and given["image"] in (None, "")
    checked = validate_article({**_PLACEHOLDER, **given})
    return StoryChanges(
        title=checked.title if "title" in given else None,
        teaser=checked.teaser if "teaser" in given else None,
        image=checked.image if "image" in given and not drop_image else None,
        source=checked.source if "source" in given else None,
        tags=checked.tags if "tags" in given else None,
        drop_image=drop_image,
    )


def changes_of_push(article: NewArticle, raw: Mapping[str, Any]) -> StoryChanges:
    """A pushed story with `"update": true` as a correction: the fields it carries."""
    return StoryChanges(
        title=article.title,
        teaser=article.teaser if "teaser" in raw else None,
        image=article.image,
        source=article.source,
        tags=article.tags,
    )


class Corrections:
    """Finds a story, corrects or retracts it, and tells whoever sends (in this process)."""

    def __init__(
        self,
        store: Store,
        *,
        on_corrected: Callable[[], None] | None = None,
        on_retracted: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.on_corrected = on_corrected
        self.on_retracted = on_retracted
        self._clock = clock

    async def find(self, reference: str) -> int | None:
        """The id of the story `reference` names: its id (digits) or its URL."""
        reference = reference.strip()
        if reference.isascii() and reference.isdigit() and len(reference) <= 18:
            found = await self._store.get_articles([int(reference)])
            if found:
                return int(reference)
        return await self._store.article_id_for_url(reference) if reference else None

    async def correct(self, article_id: int, changes: StoryChanges) -> Correction | None:
        correction = await self._store.correct_story(article_id, changes, self._clock())
        if correction is not None and correction.edits_queued and self.on_corrected:
            self.on_corrected()
        return correction

    async def retract(self, article_id: int) -> Retraction | None:
        retraction = await self._store.retract_story(article_id, self._clock())
        if retraction is not None and not retraction.already and self.on_retracted:
            self.on_retracted(article_id)
        return retraction
