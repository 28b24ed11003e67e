"""tagwire: a Telegram bot that delivers tagged news.

The folder tree is the architecture. From the top down, each layer may import only the layers
below it (checked by `lint-imports`, contracts in pyproject.toml):

- wiring: `cli` (the `tagwire` command), `sandbox`, `app` (`build_application`), `instance`
  (this process's role among several: the leader's duties), `operators` (the feed poller, the
  admins' menu and the HTTP server in the Application's lifecycle);
- `handlers` (Telegram commands and callbacks) beside `web` (HTTP API, OpenAPI, webhook);
- `context` (the typed state handlers reach), then `metrics`, then `alerts` (the leader's
  alerts to the admins);
- `intake` (validation, ingest, feeds) beside `delivery` (outbox engine, send path, limits);
- small services: `chats`, `following`, `leadership` (one leader per bot), `search`,
  `throttle`, `updates`;
- `texts` (wording in every language, plain-text helpers, story formatting);
- `tags`, `settings`, `logs`, `progress` (the long commands' bar on a terminal), then `errors`;
- `storage` (all SQL), which imports nothing from the bot.

`emulator` (a local Bot API for tests, benchmarks and the sandbox) stands outside: the running
bot never imports it.
"""
