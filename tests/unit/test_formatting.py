from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.emulator import parse_html
from bot.intake.validation import MAX_TEASER_LENGTH, MAX_TITLE_LENGTH
from bot.texts.formatting import render_article_list, render_digest, render_teaser
from bot.texts.plain import MESSAGE_LIMIT, cut_at_word, utf16_len
from storage.models import Article

NASTY = [
    "<script>alert(1)</script>",
    "Tom & Jerry <3",
    "&amp; &lt; &#x41; &bogus;",
    "\u202eevil\u202c",
    "😀" * 10,
    "a\u0000b",
    "\"quoted\" 'single'",
    "</b><i>",
]


def article(title: str, teaser: str, url: str, tags: tuple[str, ...]) -> Article:
    return Article(
        id=1,
        url=url,
        title=title,
        teaser=teaser,
        source=None,
        published_at=datetime(2026, 11, 29, tzinfo=UTC),
        tags=tags,
    )


def assert_valid_telegram_html(message: str) -> str:
    assert utf16_len(message) <= MESSAGE_LIMIT
    text, _ = parse_html(message)
    assert text.strip()
    return text


def test_teaser_has_bold_title_teaser_link_and_hashtags() -> None:
    message = render_teaser(
        article(
            "Japan wants peace",
            "Tokyo hopes…",
            "https://x.example/a?b=1&c=2",
            ("Japan", "Kuril Islands"),
        )
    )
    assert message.startswith("<b>Japan wants peace</b>")
    assert '<a href="https://x.example/a?b=1&amp;c=2">Read more</a>' in message
    assert message.endswith("#Japan #Kuril_Islands")
    text, entities = parse_html(message)
    assert "Tokyo hopes…" in text
    assert {entity["type"] for entity in entities} >= {"bold", "text_link"}


def test_markup_in_fields_arrives_as_text() -> None:
    message = render_teaser(article("<script>", "Tom & Jerry <3", "https://x.example/", ("Japan",)))
    text = assert_valid_telegram_html(message)
    assert "<script>" in text
    assert "Tom & Jerry <3" in text


def test_long_teaser_is_cut_at_a_word_near_300_characters() -> None:
    teaser = " ".join(["word"] * 200)
    message = render_teaser(article("T", teaser, "https://x.example/", ("Japan",)))
    body = parse_html(message)[0].split("\n\n")[1]
    assert body.endswith("…")
    assert 250 <= len(body) <= 300
    assert body[:-1].endswith("word")


def test_cut_at_word_keeps_short_text() -> None:
    assert cut_at_word("short", 300) == "short"


def test_cut_at_word_never_exceeds_the_limit() -> None:
    assert len(cut_at_word("x" * 1000, 300)) == 300


def test_worst_case_fields_still_fit_in_one_message() -> None:
    message = render_teaser(
        article(
            "&" * MAX_TITLE_LENGTH,
            "<" * MAX_TEASER_LENGTH,
            "https://x.example/?" + "&" * 580,
            tuple(f"tag{i}" + "x" * 58 for i in range(20)),
        )
    )
    text = assert_valid_telegram_html(message)
    assert "&&&" in text


titles = st.text(min_size=1, max_size=MAX_TITLE_LENGTH) | st.sampled_from(NASTY)
teasers = st.text(max_size=MAX_TEASER_LENGTH) | st.sampled_from(NASTY)
urls = st.builds(
    lambda path: "https://news.example.com/" + path,
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=600),
)
tag_names = st.lists(st.text(min_size=1, max_size=64), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(titles, teasers, urls, tag_names)
def test_any_story_renders_as_valid_html_within_4096(
    title: str, teaser: str, url: str, tags: list[str]
) -> None:
    if not title.strip():
        title = "x"
    assert_valid_telegram_html(render_teaser(article(title, teaser, url, tuple(tags))))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(titles, teasers, urls), min_size=1, max_size=20), st.text(max_size=64))
def test_any_list_of_stories_fits_one_message(
    stories: list[tuple[str, str, str]], heading: str
) -> None:
    articles = [article(t if t.strip() else "x", s, u, ("Japan",)) for t, s, u in stories]
    message = render_article_list(heading or "Latest", articles)
    assert_valid_telegram_html(message)


def test_list_says_how_many_did_not_fit() -> None:
    long_url = "https://x.example/" + "a" * 2000
    articles = [article(f"Story {i}", "teaser", long_url, ("Japan",)) for i in range(20)]
    message = render_article_list("Latest in Japan", articles, more_note="…and {n} more")
    text = assert_valid_telegram_html(message)
    assert "Story 0" in text
    assert "more" in text.splitlines()[-1]


def test_list_is_numbered_newest_first_as_given() -> None:
    articles = [article(f"Story {i}", "", f"https://x.example/{i}", ("Japan",)) for i in range(3)]
    text, _ = parse_html(render_article_list("Latest", articles))
    assert text.index("1. Story 0") < text.index("2. Story 1") < text.index("3. Story 2")


# Digests and teasers, exactly: the layout, the largest number of stories that fit, the limit
# itself (a message of exactly 4 096 units is fine), and the fallbacks for huge fields.


def numbered(number: int, title: str, tags: tuple[str, ...] = ("Japan",)) -> Article:
    return Article(
        id=number,
        url=f"https://x.example/{number}",
        title=title,
        teaser="",
        source=None,
        published_at=datetime(2026, 11, 29, tzinfo=UTC),
        tags=tags,
    )


def first_tag(story: Article) -> str:
    return story.tags[0] if story.tags else ""


def test_a_digest_groups_its_stories_under_their_tags() -> None:
    stories = [
        numbered(1, "Tokyo & Osaka"),
        numbered(2, "Moscow", ("Russia",)),
        numbered(3, "Kyoto"),
        numbered(4, "Untagged", ()),
        numbered(5, "Untagged too", ()),
    ]
    text, count = render_digest("5 new stories", stories, first_tag)
    assert count == 5
    assert text == (
        "<b>5 new stories</b>\n\n"
        '<b>#Japan</b>\n• <a href="https://x.example/1">Tokyo &amp; Osaka</a>\n'
        '• <a href="https://x.example/3">Kyoto</a>\n\n'
        '<b>#Russia</b>\n• <a href="https://x.example/2">Moscow</a>\n\n'
        '• <a href="https://x.example/4">Untagged</a>\n'
        '• <a href="https://x.example/5">Untagged too</a>'
    )


@pytest.mark.parametrize("words", range(1, 38, 3))
def test_a_digest_takes_the_most_stories_that_fit(words: int) -> None:
    stories = [numbered(n, f"Story {n} " + "word " * words) for n in range(1, 400)]
    text, count = render_digest("Digest", stories, first_tag)
    assert 1 < count < len(stories)
    assert utf16_len(text) <= MESSAGE_LIMIT
    assert text.count("<a href=") == count
    following = f'• <a href="https://x.example/{count + 1}">{stories[count].title}</a>'
    # One more story's line would not have fitted.
    assert utf16_len(text) + 1 + utf16_len(following) > MESSAGE_LIMIT


def test_a_digest_of_which_only_the_first_story_fits_has_one() -> None:
    heading = "h" * (MESSAGE_LIMIT - 100)
    text, count = render_digest(heading, [numbered(1, "One"), numbered(2, "t" * 90)], first_tag)
    assert count == 1
    assert text.endswith('<a href="https://x.example/1">One</a>')


def test_a_digest_of_exactly_4096_units_is_sent_whole() -> None:
    heading = "Digest"
    stories = [numbered(n, "t" * 150) for n in range(1, 22)]
    text, count = render_digest(heading, stories, first_tag)
    assert count == len(stories)
    # The titles grow (within the 200 characters a digest shows of a title) until the message
    # is exactly at the limit.
    each, rest = divmod(MESSAGE_LIMIT - utf16_len(text), len(stories))
    lengths = [150 + each] * (len(stories) - 1) + [150 + each + rest]
    assert max(lengths) <= 200
    stories = [numbered(n, "t" * length) for n, length in enumerate(lengths, start=1)]
    text, count = render_digest(heading, stories, first_tag)
    assert (count, utf16_len(text)) == (len(stories), MESSAGE_LIMIT)


def test_a_digest_whose_first_story_does_not_fit_is_empty() -> None:
    assert render_digest("x" * MESSAGE_LIMIT, [numbered(1, "One")], first_tag) == ("", 0)


def test_a_teaser_reads_title_teaser_link_and_hashtags_exactly() -> None:
    url = "https://x.example/a"
    assert render_teaser(article("Title", "Teaser.", url, ("Japan", "Kuril Islands"))) == (
        f'<b>Title</b>\n\nTeaser.\n\n<a href="{url}">Read more</a>\n#Japan #Kuril_Islands'
    )
    assert render_teaser(article("Title", "", url, ())) == (
        f'<b>Title</b>\n\n<a href="{url}">Read more</a>'
    )


def test_a_teaser_of_exactly_4096_units_is_kept_whole() -> None:
    url = "https://x.example/a"
    short = render_teaser(article("", "Teaser.", url, ("Japan",)))
    title = "T" * (MESSAGE_LIMIT - utf16_len(short))
    message = render_teaser(article(title, "Teaser.", url, ("Japan",)))
    assert utf16_len(message) == MESSAGE_LIMIT
    assert "Teaser." in message
    assert message.endswith("#Japan")


def test_a_teaser_too_long_for_a_message_is_cut_and_stays_valid() -> None:
    url = "https://x.example/a"
    # Title and link fit; the teaser (300 "&", 1 500 units escaped) is cut to what is left.
    message = render_teaser(article("T" * 2600, "&" * 300, url, ("Japan",)))
    assert message.startswith("<b>" + "T" * 2600 + "</b>\n\n&amp;")
    assert 0 < message.count("&amp;") < 300
    assert utf16_len(message) > MESSAGE_LIMIT - len("&amp;") - len("…")
    assert message.endswith(f'<a href="{url}">Read more</a>\n#Japan')
    assert_valid_telegram_html(message)
    # A title too long on its own: the hashtags go first, then the end of the title.
    huge = render_teaser(article("&" * 1000, "teaser", url, ("Japan", "Russia", "Brazil")))
    assert "#" not in huge.replace("&#", "")
    assert huge.endswith(f'<a href="{url}">Read more</a>')
    assert_valid_telegram_html(huge)
