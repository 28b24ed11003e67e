"""Intake: the one way stories come in.

`validation` checks a pushed story (the same rules for the CLI, the HTTP API and feeds),
`ingest` stores valid ones in batches and fans them out into the outbox (a scheduled one is held),
`release` releases held stories at their time (one of the leader's duties), `feeds` polls RSS
and Atom feeds into the same ingest, `feeds_cli` is `tagwire feeds`, `stories_cli` is `tagwire
stories` and `tagwire story`; `corrections` corrects and retracts stories already out,
`corrections_cli` is `tagwire edit` and `tagwire retract`.

May import: `bot.texts`, `bot.tags`, `bot.settings`, `bot.errors`, `storage`.
Never: `handlers`, `bot.web`, `bot.delivery`, `bot.metrics` (it is handed a `FeedCounters`).
"""
