"""Words inside a follow: which stories a follow of a tag lets through.

A follow may carry `only` words (a story must contain one of them) and `skip` words (a story
containing one of them is left out). The fan-out (storage/sqlite.py, storage/postgres_ingest.py)
applies them when it queues deliveries, so a story a follow stops never enters the outbox.

What a "word" is:
- In scripts written with spaces (Latin, Cyrillic, Greek, Arabic...), a word matches whole
  words only: `war` matches "War, again" but not "software" or "warm". A word of several parts
  (`new york`, `covid-19`) matches those parts in a row, whatever stands between them.
- Scripts written without spaces between words (Chinese, Japanese, Korean, Thai, Lao, Khmer,
  Myanmar) have no word boundary to look for, so a word with any of their characters matches
  wherever it stands in the text: `地震` matches "日本で地震が発生". Letters of other scripts
  next to them still end a word: `iphone` matches "iPhone発売".
- Any case, and the compatibility forms of Unicode are equal (NFKC): `ＴＯＫＹＯ` is `tokyo`.

Words are plain words, never regular expressions: each check is a set lookup (or one substring
search for the scripts above), so a story's fan-out to any number of filtering follows costs the
same small amount per follow, and no reader's pattern can make it slow for everyone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Characters of scripts written without spaces between words (see above).
_NO_SPACE_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007"  # CJK iteration marks, ideographic zero
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul Jamo extended A
    "\uac00-\ud7ff"  # Hangul syllables, Jamo extended B
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_NO_SPACE = re.compile(f"[{_NO_SPACE_RANGES}]")
# A word of a spaced script: letters, digits, marks and underscores, not of the scripts above.
_TOKEN = re.compile(rf"[^\W{_NO_SPACE_RANGES}]+")


def fold(text: str) -> str:
    """The form words and stories are compared in: NFKC, case folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def has_word_characters(word: str) -> bool:
    """True when `word` (folded) has something a story can be matched on."""
    return bool(_TOKEN.search(word) or _NO_SPACE.search(word))


@dataclass(frozen=True, slots=True)
class FollowWords:
    """The words of one follow, folded; both empty for a follow of everything in the tag."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.only or self.skip)

    @property
    def count(self) -> int:
        return len(self.only) + len(self.skip)


class StoryText:
    """A story's title and teaser, prepared once for checking any number of follows."""

    __slots__ = ("_folded", "_known", "_sequence", "_tokens")

    def __init__(self, title: str, teaser: str) -> None:
        self._folded = fold(f"{title}\n{teaser}")
        self._sequence = _TOKEN.findall(self._folded)
        self._tokens = frozenset(self._sequence)
        # Words already looked for: thousands of follows share a few popular words.
        self._known: dict[str, bool] = {}

    def contains(self, word: str) -> bool:
        """True when the folded `word` stands in the story as described in the module."""
        known = self._known.get(word)
        if known is None:
            known = self._known[word] = self._look_for(word)
        return known

    def _look_for(self, word: str) -> bool:
        if _NO_SPACE.search(word):
            return word in self._folded
        parts = _TOKEN.findall(word)
        if not parts or any(part not in self._tokens for part in parts):
            return False
        if len(parts) == 1:
            return True
        size = len(parts)
        sequence = self._sequence
        return any(
            sequence[start : start + size] == parts for start in range(len(sequence) - size + 1)
        )

    def lets_through(self, only: Sequence[str], skip: Sequence[str]) -> bool:
        """Whether a follow with these words delivers the story."""
        if only and not any(self.contains(word) for word in only):
            return False
        return not any(self.contains(word) for word in skip)
