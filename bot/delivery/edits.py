"""Edits of delivered teasers: corrections (editMessageText / editMessageCaption) and
retractions (deleteMessage, or past Telegram's 48 hours an edit into the "withdrawn" note).

The leader's second worker beside the delivery engine, started and stopped with it. Its outbox
is the `edits` table (storage/sqlite_corrections.py): rows claimed with a lease, their claims
given back at start (a `kill -9` leaves them claimed), outcomes written one by one as they
come. An edit repeated after a crash finds the message as it already is: Telegram answers
"message is not modified", which counts as done, so a correction reaches each copy once.

A story inside a combined message (a digest or a burst, whose deliveries share its message id)
is edited by rendering the whole message again, as the engine composed it (bot/delivery/
compose.py), from its stories' current versions and without the retracted ones: one edit for
every edit pending on the message, which it settles together. Once none of its stories stands
the message goes as a teaser of its own does (deleted, or past 48 hours the note).

Edits take the engine's limits: a slot of the same overall budget, the chat's turn in the
same per-chat spacing (`DeliveryEngine.book_turn`), the engine's pauses (a 429, an outage).
It also tells the engine of retractions, so that no further copy of a withdrawn story goes out
from what the engine holds in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot
from telegram.constants import ParseMode

from bot.delivery.compose import Digest, digest_kind, render_combined
from bot.delivery.engine import DeliveryEngine
from bot.delivery.ratelimit import SendBudget
from bot.delivery.sender import Failure, FailureKind, classify, post_message
from bot.texts.formatting import render_caption, render_teaser
from bot.texts.replies import DEFAULT_LANGUAGE, plain, render
from storage.base import StorageUnavailable, Store
from storage.models import (
    DELETED,
    EDITED,
    IN_A_DIGEST,
    NOT_SENT,
    NOTED,
    UNCHANGED,
    Article,
    ChatPrefs,
    ChatSettings,
    CombinedMessage,
    EditAction,
    EditJob,
    EditResult,
    EditStatus,
    MessageEdit,
    PictureMode,
    is_web_image,
)

logger = logging.getLogger(__name__)

# Telegram lets a bot delete its message for everyone within 48 hours; a little before that
# the note is sent straight away rather than a deletion Telegram would refuse.
DELETE_WINDOW = 48 * 3600 - 300
# Telegram's answers, lowercased, that decide what an edit does next.
NOT_MODIFIED = "message is not modified"
NO_TEXT = "there is no text in the message to edit"
NO_CAPTION = "there is no caption in the message to edit"
CANNOT_DELETE = "message can't be deleted"
DELETE_NOT_FOUND = "message to delete not found"
# Answers after which the message cannot be edited or deleted: failed, never retried.
_GONE_MESSAGE = (
    "message to edit not found",
    DELETE_NOT_FOUND,
    "message can't be edited",
    "message_id_invalid",
    "message identifier is not specified",
)
_RETRACTIONS_LOOKBACK = 60.0
_REMEMBERED_RETRACTIONS = 1024


@dataclass(frozen=True, slots=True)
class EditConfig:
    poll_interval: float = 1.0
    claim_batch: int = 100
    lease: float = 600.0
    max_attempts: int = 10
    max_backoff: float = 300.0
    # Chats edited at once (each chat one edit at a time, in its turn).
    concurrency: int = 8


class Editor(Protocol):
    """The three Bot API calls an edit makes; errors are python-telegram-bot's."""

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, preview: dict[str, object]
    ) -> None: ...

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None: ...

    async def delete(self, chat_id: int, message_id: int) -> None: ...


class PtbEditor:
    """The calls straight to the Bot's request, as PtbSender sends (no defaults merged)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, preview: dict[str, object]
    ) -> None:
        values: dict[str, object] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": ParseMode.HTML.value,
            "link_preview_options": preview,
        }
        await post_message(self._bot, values, method="editMessageText")

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        values: dict[str, object] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "caption": caption,
            "parse_mode": ParseMode.HTML.value,
        }
        await post_message(self._bot, values, method="editMessageCaption")

    async def delete(self, chat_id: int, message_id: int) -> None:
        values: dict[str, object] = {"chat_id": chat_id, "message_id": message_id}
        await post_message(self._bot, values, method="deleteMessage")


class _Retry(Exception):
    """Telegram asked to wait (429) or could not be reached: the edit goes again later."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.description)
        self.failure = failure


@dataclass
class EditCounters:
    edited: int = 0
    unchanged: int = 0
    deleted: int = 0
    noted: int = 0
    failed: int = 0


class EditWorker:
    def __init__(
        self,
        store: Store,
        editor: Editor,
        engine: DeliveryEngine,
        budget: SendBudget,
        config: EditConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._editor = editor
        self._engine = engine
        self._budget = budget
        self._config = config or EditConfig()
        self._clock = clock
        self.counters = EditCounters()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._results: list[EditResult] = []
        self._queues: dict[int, deque[EditJob]] = {}
        self._chat_tasks: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self._config.concurrency)
        self._withdrawn: OrderedDict[int, None] = OrderedDict()
        # This run claimed edits (stop gives back those not sent).
        self._claimed = False

    def wake(self) -> None:
        """Edits were queued (or a story retracted) in this process: look now."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="tagwire-edits")

    async def stop(self) -> None:
        """Finish the edits in flight, write their outcomes, give back the rest."""
        self._stopping.set()
        self._wake.set()
        if self._runner is not None:
            await self._runner
            self._runner = None
        tasks = list(self._chat_tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._chat_tasks.clear()
        self._queues.clear()
        try:
            await self._flush()
            if self._claimed:
                await self._store.release_edit_claims()
                self._claimed = False
        except Exception as exc:
            # The next start gives the claims back, and the outcomes not written are edits
            # that go again and find the message as it is ("not modified").
            logger.warning("stopping with edit claims or outcomes not written: %s", exc)

    # The loop

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                released = await self._store.release_edit_claims()
                if released:
                    logger.info("resuming %d edits left in flight by the previous run", released)
                break
            except Exception as exc:
                logger.warning("edits wait for the database: %s", exc)
                await self._pause(1.0)
        while not self._stopping.is_set():
            try:
                await self._flush()
                await self._tell_engine_of_retractions()
                held = [chat for chat, queue in self._queues.items() if queue]
                jobs = await self._store.claim_edits(
                    self._clock(), self._config.claim_batch, self._config.lease, held
                )
                self._claimed = self._claimed or bool(jobs)
                for job in jobs:
                    self._queues.setdefault(job.chat_id, deque()).append(job)
                    if job.chat_id not in self._chat_tasks:
                        self._chat_tasks[job.chat_id] = asyncio.create_task(
                            self._drain(job.chat_id)
                        )
                if len(jobs) >= self._config.claim_batch:
                    continue
            except StorageUnavailable as exc:
                logger.warning("edits wait for the database: %s", exc)
            except Exception:
                logger.exception("edit loop error; retrying in 1 s")
            self._wake.clear()
            await self._pause(self._config.poll_interval)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _tell_engine_of_retractions(self) -> None:
        since = self._clock() - _RETRACTIONS_LOOKBACK
        for article_id in await self._store.retracted_since(since):
            if article_id not in self._withdrawn:
                self._engine.withdraw(article_id)
                self._withdrawn[article_id] = None
                while len(self._withdrawn) > _REMEMBERED_RETRACTIONS:
                    self._withdrawn.popitem(last=False)

    async def _flush(self) -> None:
        if not self._results:
            return
        batch, self._results = self._results, []
        try:
            await self._store.finish_edits(batch)
        except BaseException:
            self._results[:0] = batch
            raise

    # One chat's edits, one at a time, in the chat's turns

    async def _drain(self, chat_id: int) -> None:
        queue = self._queues[chat_id]
        try:
            while queue and not self._stopping.is_set():
                job = queue[0]
                async with self._slots:
                    results = await self._attempt(job)
                if results is None:
                    continue
                queue.popleft()
                # A combined message's one edit settles the edits of its other stories too.
                settled = {result.id for result in results}
                for other in [other for other in queue if other.id in settled]:
                    queue.remove(other)
                self._results.extend(results)
                try:
                    await self._flush()
                except StorageUnavailable as exc:
                    logger.warning("an edit's outcome waits for the database: %s", exc)
        finally:
            self._chat_tasks.pop(chat_id, None)
            if not queue:
                self._queues.pop(chat_id, None)
            self._wake.set()

    async def _wait_turn(self, job: EditJob) -> bool:
        """Wait for the chat's turn and a slot of the overall budget; False when stopping."""
        start = self._engine.book_turn(job.chat_id, job.chat_type)
        while True:
            now = time.monotonic()
            ready = max(start, self._budget.next_slot, self._engine.paused_until)
            if ready <= now:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=ready - now)
            if self._stopping.is_set():
                return False
        self._budget.take()
        return True

    async def _attempt(self, job: EditJob) -> list[EditResult] | None:
        """The edit's outcome (with those of the edits it settled); None to try it again at
        once (after a 429's wait)."""
        if job.delivery_status != "sent" or job.message_id is None:
            return [self._result(job, EditStatus.SKIPPED, NOT_SENT)]
        prefs = (await self._store.chat_prefs([job.chat_id])).get(job.chat_id) or ChatPrefs(
            job.chat_id, job.chat_type, ChatSettings()
        )
        if job.shared:
            return await self._attempt_combined(job, prefs.settings)
        article = (await self._store.get_articles([job.article_id])).get(job.article_id)
        if article is None:
            return [self._result(job, EditStatus.SKIPPED, "the story no longer exists")]
        try:
            if job.action is EditAction.DELETE:
                photo_first = (
                    article.image is not None and prefs.settings.pictures is PictureMode.PHOTO
                )
                outcome = await self._withdraw(job, prefs.settings, photo_first)
            else:
                outcome = await self._correct(job, article, prefs.settings)
        except _Retry as retry:
            return self._retry(job, retry.failure)
        except _Failed as failed:
            self._log_failure(job, failed)
            return [self._result(job, EditStatus.FAILED, str(failed))]
        if outcome is None:
            return None
        self._count(outcome)
        return [self._result(job, EditStatus.DONE, outcome)]

    async def _attempt_combined(
        self, job: EditJob, settings: ChatSettings
    ) -> list[EditResult] | None:
        """A story inside a combined message (a digest or a burst): the whole message rendered
        again from its stories' current versions, without the retracted ones, and edited
        once for every edit pending on it; deleted (or, past 48 hours, turned into the
        withdrawn note) once none of its stories stands."""
        assert job.message_id is not None
        message = await self._store.combined_message(job.chat_id, job.message_id)
        if message is None:
            return [self._result(job, EditStatus.SKIPPED, IN_A_DIGEST)]
        # Read before the stories, so the rendering has at least these revisions.
        edits = _with_own_edit(job, message.edits)
        articles = await self._store.get_articles(list(message.article_ids))
        retracted = await self._store.retracted_among(list(message.article_ids))
        standing = [
            articles[article_id]
            for article_id in message.article_ids
            if article_id in articles and article_id not in retracted
        ]
        try:
            if standing:
                outcome = await self._rerender(job, message, standing, settings)
            else:
                # An edit queued just after another one deleted the message (the last two
                # stories retracted at once) finds it gone: that is what it was to do.
                outcome = await self._withdraw(
                    job, settings, photo_first=False, gone_is_deleted=True
                )
        except _Retry as retry:
            return self._retry(job, retry.failure)
        except _Failed as failed:
            self._log_failure(job, failed)
            return [self._result(edit, EditStatus.FAILED, str(failed)) for edit in edits]
        if outcome is None:
            return None
        results = []
        for edit in edits:
            # A retracted story's line is gone from the message: deleted, as a teaser of its
            # own would be ("not modified": it was gone already).
            done = DELETED if edit.action is EditAction.DELETE and standing else outcome
            self._count(done)
            results.append(self._result(edit, EditStatus.DONE, done))
        return results

    async def _rerender(
        self,
        job: EditJob,
        message: CombinedMessage,
        standing: list[Article],
        settings: ChatSettings,
    ) -> str | None:
        """Edit the combined message into what the engine would send of `standing` now, with
        the heading it was sent with (one an older version did not record: the one it would
        get now)."""
        language = settings.language or DEFAULT_LANGUAGE
        digest = Digest(
            message.digest_kind or digest_kind(settings, held=message.held),
            message.digest_language or language,
        )
        followed = await self._store.followed_tags(job.chat_id, message.thread_id)
        text, count = render_combined(digest, standing, followed)
        if count < len(standing):
            raise _Failed("the corrected stories no longer fit in one message")
        return await self._edit(job, text, text, {"is_disabled": True}, False, EDITED)

    def _count(self, outcome: str) -> None:
        setattr(self.counters, outcome, getattr(self.counters, outcome) + 1)

    def _log_failure(self, job: EditJob, failed: _Failed) -> None:
        self.counters.failed += 1
        logger.warning(
            "could not edit message %s in chat %s (story %s): %s",
            job.message_id,
            job.chat_id,
            job.article_id,
            failed,
        )

    def _retry(self, job: EditJob, failure: Failure) -> list[EditResult] | None:
        if failure.kind is FailureKind.RATE_LIMITED:
            # As the engine does: a private chat's 429 is the bot-wide limit.
            self._engine.pause(failure.retry_after if job.chat_id > 0 else 0.0)
            return None
        attempts = job.attempts + 1
        if attempts >= self._config.max_attempts:
            self.counters.failed += 1
            return [self._result(job, EditStatus.FAILED, failure.description, attempts=attempts)]
        backoff = min(self._config.max_backoff, 2.0 ** (attempts - 1))
        return [
            EditResult(
                id=job.id,
                revision=job.revision,
                status=EditStatus.PENDING,
                outcome=failure.description,
                attempts=attempts,
                due_at=self._clock() + backoff,
            )
        ]

    def _result(
        self,
        edit: EditJob | MessageEdit,
        status: EditStatus,
        outcome: str,
        *,
        attempts: int | None = None,
    ) -> EditResult:
        """The final outcome of an edit: the one claimed, or one of a combined message's
        edits settled by the message's one edit."""
        now = self._clock()
        return EditResult(
            id=edit.id,
            revision=edit.revision,
            status=status,
            outcome=outcome,
            attempts=edit.attempts + 1 if attempts is None else attempts,
            due_at=now,
            finished_at=now,
        )

    # The calls

    async def _correct(self, job: EditJob, article: Article, settings: ChatSettings) -> str | None:
        language = settings.language or DEFAULT_LANGUAGE
        read_more = plain("read_more", language)
        text = render_teaser(article, read_more=read_more)
        caption = render_caption(article, read_more=read_more) or text
        preview: dict[str, object] = {"is_disabled": not settings.link_previews}
        image = article.image
        if image is not None and is_web_image(image) and settings.pictures is not PictureMode.OFF:
            preview = {"url": image, "prefer_large_media": True, "show_above_text": True}
        photo_first = image is not None and settings.pictures is PictureMode.PHOTO
        return await self._edit(job, text, caption, preview, photo_first, EDITED)

    async def _withdraw(
        self,
        job: EditJob,
        settings: ChatSettings,
        photo_first: bool,
        *,
        gone_is_deleted: bool = False,
    ) -> str | None:
        assert job.message_id is not None
        if job.sent_at is None or self._clock() - job.sent_at < DELETE_WINDOW:
            if not await self._wait_turn(job):
                return None
            try:
                await self._editor.delete(job.chat_id, job.message_id)
                return DELETED
            except Exception as exc:
                failure = classify(exc)
                answer = failure.description.lower()
                if gone_is_deleted and DELETE_NOT_FOUND in answer:
                    return DELETED
                if CANNOT_DELETE not in answer:
                    self._raise(failure)
        note = render("withdrawn_note", settings.language or DEFAULT_LANGUAGE)
        outcome = await self._edit(job, note, note, {"is_disabled": True}, photo_first, NOTED)
        return NOTED if outcome == UNCHANGED else outcome

    async def _edit(
        self,
        job: EditJob,
        text: str,
        caption: str,
        preview: dict[str, object],
        photo_first: bool,
        done: str,
    ) -> str | None:
        """editMessageText or editMessageCaption, whichever the message takes (a photo has
        a caption, a text message text): the likelier first, the other when Telegram says
        the message has no text (or no caption)."""
        assert job.message_id is not None
        as_photo = photo_first
        for _ in range(2):
            if not await self._wait_turn(job):
                return None
            try:
                if as_photo:
                    await self._editor.edit_caption(job.chat_id, job.message_id, caption)
                else:
                    await self._editor.edit_text(job.chat_id, job.message_id, text, preview)
                return done
            except Exception as exc:
                failure = classify(exc)
                description = failure.description.lower()
                if NOT_MODIFIED in description:
                    return UNCHANGED
                if (NO_TEXT in description and not as_photo) or (
                    NO_CAPTION in description and as_photo
                ):
                    as_photo = not as_photo
                    continue
                self._raise(failure)
        raise _Failed("Telegram takes neither a text nor a caption edit of this message")

    @staticmethod
    def _raise(failure: Failure) -> None:
        if failure.kind in {FailureKind.RATE_LIMITED, FailureKind.TRANSIENT}:
            raise _Retry(failure)
        raise _Failed(failure.description)


class _Failed(Exception):
    """Telegram refused the edit for good (the message is gone, cannot be edited, the chat
    is gone): failed with its reason, not retried."""


def _with_own_edit(job: EditJob, edits: tuple[MessageEdit, ...]) -> list[MessageEdit]:
    """The message's pending edits with the claimed one among them. Should its row have been
    settled meanwhile (by another edit of the message), it is added as claimed: finish_edits
    writes pending rows only, so its outcome is not written again."""
    if any(edit.id == job.id for edit in edits):
        return list(edits)
    own = MessageEdit(job.id, job.article_id, job.action, job.revision, job.attempts)
    return [own, *edits]
