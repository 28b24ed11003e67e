"""Full-text search on PostgreSQL that behaves like SQLite's FTS5 table of titles and teasers.

Both halves are worked out in Python, so that neither the server's locale nor its text-search
parser can change the answers:

- `search_vector(title, teaser)` is the `tsvector` of a story (in PostgreSQL's binary form, so
  that the server parses nothing): the words FTS5's `unicode61
  remove_diacritics 2` tokenizer would index, in lower case (as the `simple` configuration
  would, with no stemming and no stop words), Latin letters without their accents (é → e,
  but ё and й stay), letters and digits of every script kept (a run of CJK characters is one
  word, as in FTS5), everything else a separator (punctuation, symbols, emoji, the combining
  signs FTS5 treats as separators). PostgreSQL's own parser is not used: it classifies
  characters by the database's LC_CTYPE (in a database whose locale is C it neither lowers
  Cyrillic nor knows `²` is a digit), so the same story would be indexed differently on two
  servers, and differently from SQLite.
- `to_tsquery_text(query)` reads the query language of FTS5 that `bot.search` writes (words,
  "phrases", `jap*` prefixes, AND / OR / NOT, parentheses, column filters such as `title:`)
  with FTS5's precedence (adjacent phrases, then NOT, AND, OR) and its treatment of phrases
  without any word (an emoji alone): left out of a list of phrases, matching nothing
  elsewhere. It returns the text of a `tsquery`, or None when the query can match nothing.
  `NEAR(…)` and `^` (first word of a column) have no equivalent and are an InvalidSearch.

Title words carry weight A and teaser words weight B (title matches rank higher, as bm25 with
weights 2.0/1.0 does in SQLite, and `title:` is a weight filter); the teaser's positions start
two after the title's last, so that a phrase never runs from one into the other.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from storage.base import InvalidSearch

# Letters and digits of every script are word characters (str.isalnum); the underscore is
# not (FTS5 splits `a_b`), nor is anything else.
_WORD = re.compile(r"[^\W_]+")
# Latin letters with accents, which FTS5 folds to the plain letter (é → e, ǘ → u), and the
# combining accents it drops wherever they stand.
_LATIN = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
_ACCENTS = re.compile("[\u0300-\u036f]+")


def _plain_latin() -> dict[str, str]:
    folds = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(code))
        letter, marks = decomposed[0], decomposed[1:]
        if marks and letter.isascii() and letter.isalpha() and _ACCENTS.fullmatch(marks):
            folds[chr(code)] = letter
    return folds


_PLAIN_LATIN = _plain_latin()

TITLE_WEIGHT = "A"
TEASER_WEIGHT = "B"
_COLUMNS = {"title": TITLE_WEIGHT, "teaser": TEASER_WEIGHT}
_ALL_WEIGHTS = frozenset(_COLUMNS.values())
# ts_rank's weights for D, C, B, A: a title word counts twice a teaser word.
RANK_WEIGHTS = [0.1, 0.2, 0.5, 1.0]
# PostgreSQL's limits on a tsvector: a longer word (which no query of 200 characters could
# find) is left out, a later position counts as the last one, a word keeps its first 256.
_MAX_WORD_BYTES = 2046
_MAX_POSITION = 16383
_MAX_POSITIONS_PER_WORD = 256
# A tsvector as PostgreSQL receives it in binary (tsvectorrecv): the number of words, then
# each word in order, NUL-terminated, with its number of positions and the positions (14
# bits, the weight in the top 2: A is 3, B is 2). Sent so, the server has nothing to parse.
_WEIGHT_BITS = {TITLE_WEIGHT: 3 << 14, TEASER_WEIGHT: 2 << 14}
_COUNT = struct.Struct("!i")
# b"\0" + one position, for every position of every weight: most words occur once.
_ONE_POSITION = [b"\0" + struct.pack("!HH", 1, code) for code in range(1 << 16)]


def search_words(text: str) -> list[str]:
    """The words of `text` as FTS5 would index them, in lower case."""
    text = text.lower()
    if not text.isascii():
        if _LATIN.search(text):
            text = _LATIN.sub(lambda letter: _PLAIN_LATIN.get(letter[0], letter[0]), text)
        if _ACCENTS.search(text):
            text = _ACCENTS.sub("", text)
    words: list[str] = []
    # Most of a text is words between spaces: only the rest goes through the expression.
    for token in text.split():
        if token.isalnum():
            words.append(token)
        else:
            words.extend(_WORD.findall(token))
    return words


def search_vector(title: str, teaser: str) -> bytes:
    """The `tsvector` of a story in PostgreSQL's binary form: each word with its positions
    and its column's weight. The teaser's positions start two after the title's last, so that
    a phrase never runs from the title into the teaser. Hot (every story stored)."""
    title_words, teaser_words = search_words(title), search_words(teaser)
    teaser_start = len(title_words) + 2
    if teaser_start + len(teaser_words) > _MAX_POSITION:
        return _long_search_vector(title_words, teaser_words)
    positions: dict[str, list[int]] = {}
    get = positions.get
    code = _WEIGHT_BITS[TITLE_WEIGHT]
    for word in title_words:
        code += 1
        known = get(word)
        if known is None:
            positions[word] = [code]
        else:
            known.append(code)
    code = _WEIGHT_BITS[TEASER_WEIGHT] + teaser_start - 1
    for word in teaser_words:
        code += 1
        known = get(word)
        if known is None:
            positions[word] = [code]
        else:
            known.append(code)
    return _pack(positions)


def _long_search_vector(title_words: list[str], teaser_words: list[str]) -> bytes:
    positions: dict[str, list[int]] = {}
    for weight, words, start in (
        (TITLE_WEIGHT, title_words, 1),
        (TEASER_WEIGHT, teaser_words, len(title_words) + 2),
    ):
        for position, word in enumerate(words, start):
            code = _WEIGHT_BITS[weight] + min(position, _MAX_POSITION)
            known = positions.setdefault(word, [])
            # Positions clamped to the last one would repeat it: each is kept once.
            if not known or known[-1] & _MAX_POSITION < code & _MAX_POSITION:
                known.append(code)
    return _pack(positions)


def _pack(positions: dict[str, list[int]]) -> bytes:
    parts = [b""]
    count = 0
    # Sorted by code point, which is UTF-8's byte order, PostgreSQL's order of lexemes.
    for word in sorted(positions):
        encoded = word.encode()
        if len(encoded) > _MAX_WORD_BYTES:
            continue
        count += 1
        codes = positions[word]
        parts.append(encoded)
        if len(codes) == 1:
            parts.append(_ONE_POSITION[codes[0]])
        else:
            codes = codes[:_MAX_POSITIONS_PER_WORD]
            parts.append(struct.pack(f"!xH{len(codes)}H", len(codes), *codes))
    parts[0] = _COUNT.pack(count)
    return b"".join(parts)


# The query language.


@dataclass(frozen=True, slots=True)
class _Phrase:
    # (word, prefix) pairs; no pairs at all is a phrase without any word (e.g. an emoji).
    words: tuple[tuple[str, bool], ...]
    weights: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Op:
    op: str  # "AND", "OR", "NOT" (x NOT y: x and not y)
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _List:
    # Adjacent phrases: all of them.
    phrases: tuple[_Phrase, ...]


_Node = _Phrase | _Op | _List

# A bareword: FTS5 allows letters, digits, `_`, 0x1A and every non-ASCII character.
_BAREWORD = re.compile(r"[A-Za-z0-9_\x1a\u0080-\U0010ffff]+")
_PUNCTUATION = frozenset('()*+:^,{}-"')
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_PHRASE_START = frozenset({"string", "word", "-", "{", "^"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "string", "word", "op", or the punctuation character itself
    text: str


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        char = query[position]
        if char.isspace():
            position += 1
        elif char == '"':
            # A string runs to the next lone quote; "" inside it is a quote.
            end = position + 1
            parts: list[str] = []
            while True:
                close = query.find('"', end)
                if close < 0:
                    raise InvalidSearch("a quotation mark is not closed")
                parts.append(query[end:close])
                if query.startswith('"', close + 1):
                    parts.append('"')
                    end = close + 2
                    continue
                position = close + 1
                break
            tokens.append(_Token("string", "".join(parts)))
        elif char in _PUNCTUATION:
            tokens.append(_Token(char, char))
            position += 1
        else:
            match = _BAREWORD.match(query, position)
            if match is None:
                raise InvalidSearch(f'syntax error near "{char}"')
            word = match.group()
            tokens.append(_Token("op" if word in _OPERATORS else "word", word))
            position = match.end()
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self._tokens = _tokens(query)
        self._at = 0

    def parse(self) -> _Node:
        if not self._tokens:
            raise InvalidSearch("there is nothing to search for")
        node = self._or()
        if self._at < len(self._tokens):
            self._fail()
        return node

    def _peek(self, offset: int = 0) -> _Token | None:
        index = self._at + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def _kind(self, offset: int = 0) -> str | None:
        token = self._peek(offset)
        return None if token is None else token.kind

    def _fail(self) -> NoReturn:
        token = self._peek()
        raise InvalidSearch(f'syntax error near "{token.text if token else ""}"')

    def _expect(self, kind: str) -> _Token:
        token = self._peek()
        if token is None or token.kind != kind:
            self._fail()
        self._at += 1
        return token

    def _binary(self, name: str, operand: Callable[[], _Node]) -> _Node:
        node = operand()
        while (token := self._peek()) is not None and token.kind == "op" and token.text == name:
            self._at += 1
            node = _Op(name, node, operand())
        return node

    def _or(self) -> _Node:
        return self._binary("OR", self._and)

    def _and(self) -> _Node:
        return self._binary("AND", self._not)

    def _not(self) -> _Node:
        return self._binary("NOT", self._unary)

    def _unary(self) -> _Node:
        weights = self._columns()
        if self._kind() == "(":
            self._at += 1
            node = self._or()
            self._expect(")")
            return node if weights is None else _restrict(node, weights)
        # Adjacent phrases (FTS5 allows no parenthesised group among them).
        phrases = [self._phrase(weights)]
        while self._kind() in _PHRASE_START:
            weights = self._columns()
            phrases.append(self._phrase(weights))
        return phrases[0] if len(phrases) == 1 else _List(tuple(phrases))

    def _phrase(self, weights: frozenset[str] | None) -> _Phrase:
        token = self._peek()
        if token is not None and token.kind == "^":
            raise InvalidSearch("^ (the first word of a column) is not supported")
        if token is not None and token.text == "NEAR" and self._kind(1) == "(":
            raise InvalidSearch("NEAR(…) is not supported")
        words: list[tuple[str, bool]] = []
        while True:
            if self._kind() not in {"string", "word"}:
                self._fail()
            piece = self._tokens[self._at]
            self._at += 1
            prefix = self._kind() == "*"
            if prefix:
                self._at += 1
            found = search_words(piece.text)
            if any(len(word.encode()) > _MAX_WORD_BYTES for word in found):
                raise InvalidSearch(f"a word longer than {_MAX_WORD_BYTES} bytes is not indexed")
            words.extend((word, False) for word in found)
            if prefix and found:
                words[-1] = (words[-1][0], True)
            if self._kind() != "+":
                break
            self._at += 1
        return _Phrase(tuple(words), _ALL_WEIGHTS if weights is None else weights)

    def _columns(self) -> frozenset[str] | None:
        """A column filter (`title:`, `-title:`, `{title teaser}:`), when one comes next."""
        negated = self._kind() == "-"
        if negated:
            self._at += 1
        names: list[str] = []
        if self._kind() == "{":
            self._at += 1
            while self._kind() == "word":
                names.append(self._tokens[self._at].text)
                self._at += 1
            if not names:
                self._fail()
            self._expect("}")
        elif self._kind() == "word" and self._kind(1) == ":":
            names.append(self._tokens[self._at].text)
            self._at += 1
        elif negated:
            self._fail()
        else:
            return None
        self._expect(":")
        chosen = set()
        for name in names:
            weight = _COLUMNS.get(name.lower())
            if weight is None:
                raise InvalidSearch(f"no such column: {name}")
            chosen.add(weight)
        return _ALL_WEIGHTS - chosen if negated else frozenset(chosen)


def _restrict(node: _Node, weights: frozenset[str]) -> _Node:
    if isinstance(node, _Phrase):
        return _Phrase(node.words, node.weights & weights)
    if isinstance(node, _List):
        return _List(tuple(_Phrase(p.words, p.weights & weights) for p in node.phrases))
    return _Op(node.op, _restrict(node.left, weights), _restrict(node.right, weights))


def _quote(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("'", "''")
    return f"'{escaped}'"


def _phrase_text(phrase: _Phrase) -> str | None:
    if not phrase.words or not phrase.weights:
        return None
    weights = "" if phrase.weights == _ALL_WEIGHTS else "".join(sorted(phrase.weights))
    items = []
    for word, prefix in phrase.words:
        flags = ("*" if prefix else "") + weights
        items.append(_quote(word) + (f":{flags}" if flags else ""))
    return items[0] if len(items) == 1 else "(" + " <-> ".join(items) + ")"


def _compile(node: _Node) -> str | None:
    """The tsquery text of `node`, or None when it can match nothing."""
    if isinstance(node, _Phrase):
        return _phrase_text(node)
    if isinstance(node, _List):
        parts = [text for text in map(_phrase_text, node.phrases) if text is not None]
        return None if not parts else parts[0] if len(parts) == 1 else f"({' & '.join(parts)})"
    left, right = _compile(node.left), _compile(node.right)
    if node.op == "AND":
        return None if left is None or right is None else f"({left} & {right})"
    if node.op == "OR":
        if left is None or right is None:
            return left if right is None else right
        return f"({left} | {right})"
    # NOT
    if left is None or right is None:
        return left
    return f"({left} & !{right})"


def to_tsquery_text(query: str) -> str | None:
    """The text of a `tsquery` (cast with `::tsquery`) that matches what FTS5 matches for
    `query`, or None when nothing can match; InvalidSearch when FTS5 could not parse it
    either."""
    return _compile(_Parser(query).parse())
