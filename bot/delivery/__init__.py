"""Delivery: everything that sends to Telegram.

The outbox engine (`engine`, paced by `config`) drains pending deliveries at Telegram's limits
(`ratelimit`) and each chat's schedule (`schedule`), in messages `compose` makes; `edits`
corrects and withdraws delivered teasers beside it; `sender` sends one message and says what
Telegram's answer means; `request` is python-telegram-bot's request over aiohttp; `retry`
repeats the start-up calls while Telegram is unreachable.

May import: `bot.texts`, `bot.tags`, `bot.settings`, `bot.logs`, `bot.errors`, `storage`.
Never: `handlers`, `bot.web`, `bot.intake`, the wiring above.
"""
