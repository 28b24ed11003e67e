"""Intake: the one way stories come in.

`validation` checks a pushed story (the same rules for the CLI, the HTTP API and feeds),
`ingest` stores valid ones in batches and fans them out into the outbox, `feeds` polls RSS and
Atom feeds into the same ingest, `feeds_cli` is `tagwire feeds`.

May import: `bot.texts`, `bot.tags`, `bot.settings`, `bot.errors`, `storage`.
Never: `handlers`, `bot.web`, `bot.delivery`, `bot.metrics` (it is handed a `FeedCounters`).
"""
