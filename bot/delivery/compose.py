"""What the delivery engine sends: the stories its claims need, their teasers and captions as
rendered per language, and the message one send carries (a teaser, with its picture in the form
the chat chose, or a digest of several stories), and a digest rendered again for a correction
(bot/delivery/edits.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.texts.formatting import render_caption, render_digest, render_teaser
from bot.texts.replies import plain
from storage.models import (
    Article,
    ChatSettings,
    DeliveryMode,
    PendingDelivery,
    PictureMode,
    Tag,
    is_web_image,
)

# Stories (and their texts) kept in memory; rendering is cheap, a bounded cache matters more.
STORY_CACHE = 2048


@dataclass(frozen=True, slots=True)
class Message:
    """What one send carries: a teaser, or a digest of several deliveries. A teaser with a
    picture is a `photo` with its `caption` (`text` stays ready in case Telegram refuses the
    photo), or the text with the `picture` URL as a large preview above it."""

    deliveries: tuple[PendingDelivery, ...]
    text: str
    link_preview: bool
    thread_id: int
    photo: str | None = None
    caption: str = ""
    picture: str | None = None
    # A combined message (a digest or a burst): how its heading was made, recorded with its
    # deliveries so that a correction can render it again (bot/delivery/edits.py).
    digest: Digest | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """A combined message's heading: its kind (`DIGEST_KINDS`) and language."""

    kind: str
    language: str


class Stories:
    """The stories of the engine's claims, read again at every claim (a correction must reach
    the deliveries still pending), with what the engine's run learnt of them: retracted, or a
    picture Telegram refused."""

    def __init__(self) -> None:
        self._articles: OrderedDict[int, Article] = OrderedDict()
        self._teasers: dict[tuple[int, str], str] = {}
        self._captions: dict[tuple[int, str], str | None] = {}
        # Their other deliveries go out as text at once, not as a photo Telegram refuses again.
        self._refused_pictures: OrderedDict[int, None] = OrderedDict()
        # None of their deliveries goes out.
        self._withdrawn: OrderedDict[int, None] = OrderedDict()

    def get(self, article_id: int) -> Article | None:
        return self._articles.get(article_id)

    def update(self, fresh: Mapping[int, Article], claimed: Iterable[int]) -> None:
        """The stories as just read; a changed one is rendered anew."""
        for article_id, article in fresh.items():
            cached = self._articles.get(article_id)
            if cached is not None and cached != article:
                for key in [key for key in self._teasers if key[0] == article_id]:
                    del self._teasers[key]
                for key in [key for key in self._captions if key[0] == article_id]:
                    del self._captions[key]
            self._articles[article_id] = article
        for article_id in claimed:
            if article_id in self._articles:
                self._articles.move_to_end(article_id)
        while len(self._articles) > STORY_CACHE:
            self._articles.popitem(last=False)

    def withdraw(self, article_id: int) -> None:
        _remember(self._withdrawn, article_id)

    def withdrawn(self, article_id: int) -> bool:
        return article_id in self._withdrawn

    def refuse_picture(self, article_id: int) -> bool:
        """Telegram refused the story's picture; True the first time in this run."""
        if article_id in self._refused_pictures:
            return False
        _remember(self._refused_pictures, article_id)
        return True

    def teaser(self, article_id: int, language: str) -> str:
        key = (article_id, language)
        text = self._teasers.get(key)
        if text is None:
            text = render_teaser(self._articles[article_id], read_more=plain("read_more", language))
            if len(self._teasers) >= STORY_CACHE:
                self._teasers.clear()
            self._teasers[key] = text
        return text

    def caption(self, article_id: int, language: str) -> str | None:
        key = (article_id, language)
        if key not in self._captions:
            if len(self._captions) >= STORY_CACHE:
                self._captions.clear()
            self._captions[key] = render_caption(
                self._articles[article_id], read_more=plain("read_more", language)
            )
        return self._captions[key]

    def teaser_message(
        self, delivery: PendingDelivery, settings: ChatSettings, language: str
    ) -> Message:
        """One story's teaser: with its picture, in the form the chat chose, a photo with the
        teaser as its caption or the text with the picture as a large preview above it. A
        file_id can only be a photo, and a caption that cannot hold the link and the tags gives
        way to the preview; a chat that wants no pictures, or a picture Telegram refused, gets
        the text teaser."""
        text = self.teaser(delivery.article_id, language)
        plain_text = Message((delivery,), text, settings.link_previews, delivery.thread_id)
        article = self._articles.get(delivery.article_id)
        image = article.image if article is not None else None
        if (
            image is None
            or settings.pictures is PictureMode.OFF
            or delivery.article_id in self._refused_pictures
        ):
            return plain_text
        web = is_web_image(image)
        if settings.pictures is PictureMode.PHOTO or not web:
            caption = self.caption(delivery.article_id, language)
            if caption is not None:
                return Message(
                    (delivery,),
                    text,
                    settings.link_previews,
                    delivery.thread_id,
                    photo=image,
                    caption=caption,
                )
        if web:
            return Message((delivery,), text, True, delivery.thread_id, picture=image)
        return plain_text


# A combined message's kind → the phrase of its heading.
DIGEST_KINDS = {
    "burst": "burst_heading",
    "hourly": "digest_heading_hourly",
    "daily": "digest_heading_daily",
    "quiet": "digest_heading_quiet",
}


def digest_kind(settings: ChatSettings, *, held: bool) -> str:
    """Which heading a combined message gets: a burst of stories that arrived at once, or
    stories held for the chat's hourly or daily digest or its quiet hours."""
    if not held:
        return "burst"
    if settings.mode is DeliveryMode.HOURLY:
        return "hourly"
    if settings.mode is DeliveryMode.DAILY:
        return "daily"
    return "quiet"


def digest_heading(kind: str, count: int, language: str) -> str:
    return plain(DIGEST_KINDS.get(kind, "burst_heading"), language, count=count)


def render_combined(
    digest: Digest, articles: Sequence[Article], followed_tags: Sequence[Tag]
) -> tuple[str, int]:
    """A combined message of `articles` as the engine makes it (render_digest), its heading
    counting them all; with how many fitted."""
    heading = digest_heading(digest.kind, len(articles), digest.language)
    return render_digest(heading, articles, grouping(followed_tags))


def grouping(followed_tags: Sequence[Tag]) -> Callable[[Article], str]:
    """Group a digest's stories by the first of their tags the chat follows."""
    followed = {tag.key: tag.name for tag in followed_tags}

    def group_of(article: Article) -> str:
        for name in article.tags:
            key = name.casefold()
            if key in followed:
                return followed[key]
        return article.tags[0] if article.tags else ""

    return group_of


def _remember(kept: OrderedDict[int, None], article_id: int) -> None:
    kept[article_id] = None
    kept.move_to_end(article_id)
    while len(kept) > STORY_CACHE:
        kept.popitem(last=False)
