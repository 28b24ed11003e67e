"""Texts: what the bot says and how.

`replies` renders every reply in the reader's language from the gettext catalogues in
`locale/` (`catalogue` reads them, `translation_check` vets each translated message,
`translating` has the translators' commands; docs/translating.md); `plain` has the
plain-text helpers (cleaning, cutting, measuring UTF-16); `formatting` turns stories into
Telegram HTML within Telegram's lengths.

May import: `bot.tags`, `bot.errors`, `storage.models` (and Babel). Nothing above.
"""
