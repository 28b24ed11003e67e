"""Words inside a follow: what a word matches (storage/words.py) and how /follow reads them
(bot/following.py), with a property test against stories built to contain or lack each word."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.following import MAX_FOLLOW_WORDS, WordsProblem, parse_follow
from storage.words import FollowWords, StoryText, fold


def test_whole_words_any_case_and_script() -> None:
    story = StoryText("WAR in the north; Землетрясение у Хоккайдо", "COVID-19 news, New  York")
    assert story.contains("war")
    assert not story.contains("wa")
    assert story.contains("north;")  # punctuation is not part of a word
    assert story.contains(fold("землетрясение"))
    assert not story.contains("землетрясени")
    assert story.contains("covid-19")
    assert story.contains("covid")
    assert story.contains("19")
    assert story.contains("new york")
    assert not story.contains("york new")
    assert not StoryText("Software is warm", "").contains("war")


def test_scripts_without_spaces_match_inside_the_text() -> None:
    story = StoryText("日本で地震が発生", "iPhone発売 ข่าวแผ่นดินไหว")
    assert story.contains("地震")
    assert story.contains("iphone")
    assert story.contains("แผ่นดินไหว")
    assert not story.contains("台風")
    assert StoryText("ＴＯＫＹＯ", "").contains(fold("Tokyo"))


def test_only_and_skip() -> None:
    story = StoryText("Earthquake drill", "")
    assert story.lets_through(("earthquake",), ())
    assert not story.lets_through(("tsunami",), ())
    assert not story.lets_through(("earthquake",), ("drill",))
    assert story.lets_through((), ("baseball",))


def test_parse_follow() -> None:
    request = parse_follow("Japan, Sports only Earthquake, tsunami except baseball")
    assert request.tags.strip() == "Japan, Sports"
    assert request.words == FollowWords(("earthquake", "tsunami"), ("baseball",))
    assert parse_follow("Japan").words is None
    assert parse_follow("Япония кроме Бейсбол").words == FollowWords((), ("бейсбол",))
    assert parse_follow("only quake").problem == WordsProblem("words_no_tag")
    assert parse_follow("Japan only ,").problem == WordsProblem("words_missing", ("only",))
    too_many = ", ".join(f"w{i}" for i in range(MAX_FOLLOW_WORDS + 1))
    assert parse_follow(f"Japan only {too_many}").problem == WordsProblem(
        "words_too_many", count=MAX_FOLLOW_WORDS + 1
    )
    assert parse_follow("Japan only a except A").problem == WordsProblem("words_both", ("a",))
    invalid = parse_follow("Japan only ***")
    assert invalid.problem is not None
    assert invalid.problem.key == "words_invalid"


# Words of spaced scripts whose case maps both ways, and words of a script without spaces.
_LATIN = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
_CYRILLIC = st.text("абвгдежзийклмнопрстуфхцчшщыэюя", min_size=1, max_size=6)
_CJK = st.text("地震日本台風野球東京", min_size=1, max_size=3)
_SEPARATORS = st.sampled_from([" ", ", ", "\n", " — ", "; ", "! ", " (", ") "])


@st.composite
def _story_and_words(
    draw: st.DrawFn,
) -> tuple[list[str], list[str], list[str], list[str], str]:
    """(story's spaced words, story's CJK runs, only words, skip words, story text)."""
    spaced = draw(st.lists(st.one_of(_LATIN, _CYRILLIC), max_size=12))
    cjk = draw(st.lists(_CJK, max_size=3))
    vocabulary = st.one_of(_LATIN, _CYRILLIC, _CJK, st.sampled_from(spaced or ["x"]))
    only = draw(st.lists(vocabulary, max_size=4, unique=True))
    skip = draw(st.lists(vocabulary, max_size=4, unique=True))
    parts: list[str] = []
    for word in [*spaced, *cjk]:
        shown = draw(st.sampled_from([word, word.upper(), word.capitalize()]))
        parts.append(shown + draw(_SEPARATORS))
    return spaced, cjk, only, skip, "".join(parts)


@settings(max_examples=400)
@given(_story_and_words())
def test_words_never_let_through_what_they_stop_nor_stop_what_they_let_through(
    case: tuple[list[str], list[str], list[str], list[str], str],
) -> None:
    spaced, cjk, only, skip, text = case

    def present(word: str) -> bool:
        # By construction: a spaced word is in the story when it is one of the story's
        # words; a CJK word when it stands inside one of its CJK runs.
        if any(ch in "地震日本台風野球東京" for ch in word):
            return any(word in run for run in cjk)
        return word in spaced

    expected = (not only or any(present(w) for w in only)) and not any(present(w) for w in skip)
    story = StoryText(text, "")
    assert story.lets_through(only, skip) is expected
