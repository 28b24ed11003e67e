"""Texts: what the bot says and how.

`replies` is every reply's wording in one table (English) with `russian` beside it;
`plain` has the plain-text helpers (cleaning, cutting, measuring UTF-16); `formatting` turns
stories into Telegram HTML within Telegram's lengths.

May import: `bot.tags`, `bot.errors`, `storage.models`. Nothing above.
"""
