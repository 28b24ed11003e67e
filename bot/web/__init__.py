"""The bot's HTTP side: the ingestion API (`api`), the models it takes and answers, from which
its OpenAPI document is generated (`schemas`), the webhook Telegram posts updates to
(`webhook`), and the embedded uvicorn server (`server`) that serves them, the emulator and the
sandbox page inside the running event loop.

May import: `bot.context`, `bot.metrics`, `bot.intake`, `bot.delivery`, the services and
layers below them, `storage`. Never: `handlers`, the wiring above.
"""
