"""A local stand-in for the Telegram Bot API server, for the tests, the benchmarks and the
sandbox.

The emulator serves `/bot<token>/<method>` on 127.0.0.1 with uvicorn inside the running event
loop, answers with Telegram's JSON shapes and error descriptions, keeps the state a bot can
observe (chats, members, the bot's messages, pending updates, commands, webhook) and lets tests
inject the faults a real deployment meets: blocked users, kicked bots, migrated groups, flood
limits, gateway errors and dropped connections.

`bot_api` puts `BotApiEmulator` together from mixins over one `state.EmulatorState`:

- `server`: start/stop and the HTTP dispatch; `faults`: fail_next, random faults, offline,
  holding a call in flight (`hold`) and the chat-level faults; `limits`: Telegram's flood
  limits;
- Bot API methods by family: `messages`, `chats` (members), `updates` (getUpdates, webhook),
  `profile` (getMe, commands, descriptions);
- `users`: what users do, as updates; `records`: the calls and messages tests read back, and
  the event stream;
- text: `formatting` (a text parameter to text and entities) over `html_parsing`,
  `markdown_parsing` and `entities` (spans, UTF-16 offsets, auto-detected entities);
- `params` (a request's parameters) and `answers` (Telegram's answer envelope, errors).

May import: `bot.web.server` (the embedded uvicorn), the standard library and third-party
packages. Nothing of the running bot imports it (an import-linter contract in pyproject.toml).
"""

from bot.emulator.answers import ApiCall
from bot.emulator.bot_api import BotApiEmulator, running_emulator
from bot.emulator.entities import utf16_length
from bot.emulator.html_parsing import parse_html
from bot.emulator.messages import MAX_CALLBACK_DATA_BYTES, MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH
from bot.emulator.state import HeldCall
from bot.web.server import LocalServer

__all__ = [
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "ApiCall",
    "BotApiEmulator",
    "HeldCall",
    "LocalServer",
    "parse_html",
    "running_emulator",
    "utf16_length",
]
