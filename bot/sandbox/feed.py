"""What the sandbox page shows, made from the emulator's events and pushed to every open page.

The emulator calls `Feed` synchronously for each update it queues and each call the bot makes;
the feed turns them into page events (a message, an edit, a callback answer, a log line), keeps
enough history for a page that opens late, and hands each event to every subscriber's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.emulator import BotApiEmulator, parse_html
from bot.sandbox.cast import Cast

PageEvent = dict[str, Any]
JSONDict = dict[str, Any]

HISTORY_PER_CHAT = 300
LOG_SIZE = 500
# A page that falls this far behind is cut off; its browser reconnects and gets a snapshot.
QUEUE_SIZE = 1000
SUMMARY_LENGTH = 90

# A document (/export's file) is shown by its caption; the page cannot send one back.
_MESSAGE_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
_EDIT_METHODS = frozenset({"editmessagetext", "editmessagereplymarkup"})
_COMMAND_METHODS = frozenset({"setmycommands", "deletemycommands"})
_TEXT_METHODS = frozenset({"sendmessage", "editmessagetext"})
# Long polls are the bot waiting for readers, not the bot doing something.
_UNLOGGED_METHODS = frozenset({"getupdates"})
_REMEMBERED_QUERIES = 1000


class Subscription:
    """One open page: the events it has not read yet; None ends the stream."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[PageEvent | None] = asyncio.Queue(QUEUE_SIZE)

    def put(self, event: PageEvent | None) -> bool:
        """False when the page is too far behind to keep."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def end(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Feed:
    def __init__(self, emulator: BotApiEmulator, cast: Cast) -> None:
        self._emulator = emulator
        self._cast = cast
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._log: deque[PageEvent] = deque(maxlen=LOG_SIZE)
        self._queries: dict[str, tuple[int, int]] = {}
        self._subscriptions: list[Subscription] = []
        self._faults: JSONDict = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    # ---------------------------------------------------------------- lifecycle

    def attach(self) -> None:
        if self._unsubscribe is None:
            self._faults = self._fault_state()
            self._unsubscribe = self._emulator.subscribe(self._on_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Ends every page's stream, so the web server can stop without waiting for them."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.end()
        self._subscriptions.clear()

    # ---------------------------------------------------------------- pages

    def subscribe(self) -> Subscription:
        """A new page's subscription, its first event being the snapshot of everything so far.

        Both happen in one step of the event loop, so no event falls between them.
        """
        subscription = Subscription()
        subscription.put(self.snapshot())
        if self._closed:
            subscription.end()
        else:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)

    def snapshot(self) -> PageEvent:
        emulator = self._emulator
        return {
            "type": "snapshot",
            "bot": {"name": emulator.bot_first_name, "username": emulator.bot_username},
            "chats": [chat.as_json() for chat in self._cast.chats],
            "commands": self._commands(),
            "messages": {
                str(chat_id): list(messages.values())
                for chat_id, messages in self._messages.items()
            },
            "log": list(self._log),
            "faults": dict(self._faults),
        }

    # ---------------------------------------------------------------- what the operator did

    def note(self, action: str, summary: str, outcome: str, *, chat_id: int | None = None) -> None:
        """A line in the log for something the operator did (pushed a story, made faults)."""
        self._add_log(
            {
                "type": "log",
                "source": "operator",
                "at": time.time(),
                "method": action,
                "chat_id": chat_id,
                "chat": self._cast.name_of_chat(chat_id) if chat_id is not None else None,
                "status": None,
                "outcome": outcome,
                "summary": _cut(summary),
            }
        )

    def refresh_faults(self) -> None:
        """Tells the pages when a fault switch changed (by the operator or by a reader)."""
        state = self._fault_state()
        if state != self._faults:
            self._faults = state
            self._publish({"type": "faults", **state})

    # ---------------------------------------------------------------- emulator events

    def _on_event(self, kind: str, payload: JSONDict) -> None:
        if kind == "update":
            self._on_update(payload)
            # Writing to the bot unblocks it, as on Telegram.
            self.refresh_faults()
        elif kind == "call":
            self._on_call(payload)

    def _on_update(self, update: JSONDict) -> None:
        message = update.get("message")
        if isinstance(message, dict) and "text" in message:
            self._show(message, "message")
            return
        query = update.get("callback_query")
        if isinstance(query, dict):
            chat = (query.get("message") or {}).get("chat") or {}
            user = query.get("from") or {}
            self._queries[str(query.get("id"))] = (int(chat.get("id", 0)), int(user.get("id", 0)))
            while len(self._queries) > _REMEMBERED_QUERIES:
                del self._queries[next(iter(self._queries))]

    def _on_call(self, call: JSONDict) -> None:
        method = str(call.get("method", ""))
        name = method.lower()
        if name in _UNLOGGED_METHODS:
            return
        params: JSONDict = call.get("params") or {}
        status = int(call.get("status", 0))
        response: JSONDict = call.get("response") or {}
        result = response.get("result")
        chat_id = _chat_id(params.get("chat_id"))
        if name == "answercallbackquery":
            chat_id, _ = self._queries.get(str(params.get("callback_query_id")), (None, 0))
        self._add_log(
            {
                "type": "log",
                "source": "bot",
                "at": time.time(),
                "method": method,
                "chat_id": chat_id,
                "chat": self._cast.name_of_chat(chat_id) if chat_id is not None else None,
                "status": status,
                "outcome": _outcome(status, response),
                "summary": self._summary(name, params, result if status == 200 else None),
            }
        )
        if status != 200:
            return
        if name in _MESSAGE_METHODS and isinstance(result, dict):
            self._show(result, "message", _picture(name, params))
        elif name in _EDIT_METHODS and isinstance(result, dict):
            self._show(result, "edit")
        elif name == "deletemessage" and chat_id is not None:
            message_id = _chat_id(params.get("message_id"))
            if message_id is not None:
                self._messages.get(chat_id, {}).pop(message_id, None)
                self._publish({"type": "delete", "chat_id": chat_id, "message_id": message_id})
        elif name == "answercallbackquery":
            self._toast(params)
        elif name in _COMMAND_METHODS:
            self._publish({"type": "commands", "commands": self._commands()})

    def _show(self, message: JSONDict, kind: str, picture: str | None = None) -> None:
        view = message_view(message, picture)
        chat_messages = self._messages.setdefault(view["chat_id"], {})
        chat_messages[view["message_id"]] = view
        while len(chat_messages) > HISTORY_PER_CHAT:
            del chat_messages[next(iter(chat_messages))]
        self._publish({"type": kind, "message": view})

    def _toast(self, params: JSONDict) -> None:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            return
        query_id = str(params.get("callback_query_id"))
        chat_id, user_id = self._queries.pop(query_id, (None, 0))
        alert = params.get("show_alert")
        self._publish(
            {
                "type": "toast",
                "chat_id": chat_id,
                "user_id": user_id,
                "text": text,
                "alert": alert is True or alert == "true",
            }
        )

    def _summary(self, name: str, params: JSONDict, result: Any) -> str:
        if name in _TEXT_METHODS:
            if isinstance(result, dict) and isinstance(result.get("text"), str):
                return _cut(result["text"])
            return _cut(_plain(params.get("text")))
        if name == "sendphoto":
            return _cut(_plain(params.get("caption")) or "a photo")
        if name == "senddocument":
            document = (result or {}).get("document") or {}
            return _cut(f"a file, {document.get('file_name') or 'unnamed'}")
        if name == "answercallbackquery":
            text = params.get("text")
            return _cut(text) if isinstance(text, str) and text else "(no text)"
        if name == "getchatmember":
            user_id = _chat_id(params.get("user_id"))
            who = self._cast.name_of_user(user_id) if user_id is not None else None
            return f"is {who or user_id} an admin?"
        if name == "setmycommands":
            commands = params.get("commands")
            return f"{len(commands) if isinstance(commands, list) else 0} commands for the menu"
        return ""

    # ---------------------------------------------------------------- plumbing

    def _commands(self) -> list[JSONDict]:
        return [dict(command) for command in self._emulator.commands.get(("default", ""), [])]

    def _fault_state(self) -> JSONDict:
        emulator = self._emulator
        unreachable = [
            chat.id
            for chat in self._cast.chats
            if emulator.is_blocked(chat.id) or emulator.is_kicked(chat.id)
        ]
        return {"flood_limits": emulator.limits_enforced, "unreachable": unreachable}

    def _add_log(self, entry: PageEvent) -> None:
        self._log.append(entry)
        self._publish(entry)

    def _publish(self, event: PageEvent) -> None:
        for subscription in list(self._subscriptions):
            if not subscription.put(event):
                self._subscriptions.remove(subscription)
                subscription.end()


def message_view(message: JSONDict, picture: str | None = None) -> JSONDict:
    """A Telegram Message as the page draws it: text and entities untouched (the page renders
    them into DOM nodes, never as HTML), the inline keyboard reduced to what a button shows,
    and the `picture` above the text: a photo's URL, or a large link preview's (a Message
    does not carry them; the call that sent it does)."""
    sender = message.get("from") or message.get("sender_chat") or {}
    keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    rows = [
        [
            {
                key: button[key]
                for key in ("text", "callback_data", "url")
                if isinstance(button.get(key), str)
            }
            for button in row
            if isinstance(button, dict)
        ]
        for row in keyboard
        if isinstance(row, list)
    ]
    text = message.get("text", message.get("caption", ""))
    entities = message.get("entities", message.get("caption_entities", []))
    return {
        "chat_id": int(message["chat"]["id"]),
        "message_id": int(message["message_id"]),
        "date": int(message.get("date", 0)),
        "from_id": sender.get("id"),
        "from_name": sender.get("first_name") or sender.get("title") or "",
        "from_bot": bool(sender.get("is_bot")),
        "text": text if isinstance(text, str) else "",
        "entities": entities if isinstance(entities, list) else [],
        "keyboard": rows,
        "edited": "edit_date" in message,
        "photo": "photo" in message,
        "picture": picture,
    }


def _picture(method: str, params: JSONDict) -> str | None:
    """The picture's URL a sendPhoto or a sendMessage with a large preview above its text
    showed: what the page draws (a photo sent by file_id has none to draw)."""
    if method == "sendphoto":
        url = params.get("photo")
    else:
        options = params.get("link_preview_options")
        shown = isinstance(options, dict) and options.get("show_above_text") is True
        url = options.get("url") if shown and isinstance(options, dict) else None
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return url
    return None


def _chat_id(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return int(raw.strip())
    return None


def _outcome(status: int, response: JSONDict) -> str:
    if status == 0:
        return "connection dropped"
    if status == 200:
        return "OK"
    return f"{status} {response.get('description', '')}".strip()


def _plain(html: Any) -> str:
    if not isinstance(html, str):
        return ""
    try:
        text, _ = parse_html(html, reject_bare_ampersand=False)
    except ValueError:
        return html
    return text


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_LENGTH else line[: SUMMARY_LENGTH - 1] + "…"
