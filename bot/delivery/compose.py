"""What the delivery engine sends: the stories its claims need, their teasers and captions as
rendered per language, and the message one send carries (a teaser, with its picture in the form
the chat chose, or a digest of several stories)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.texts.formatting import render_caption, render_teaser
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


def digest_heading(settings: ChatSettings, count: int, *, held: bool, language: str) -> str:
    if not held:
        return plain("burst_heading", language, count=count)
    if settings.mode is DeliveryMode.HOURLY:
        return plain("digest_heading_hourly", language, count=count)
    if settings.mode is DeliveryMode.DAILY:
        return plain("digest_heading_daily", language, count=count)
    return plain("digest_heading_quiet", language, count=count)


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
