"""Updates: the queue users' actions fill, and the two ways the bot takes from it, getUpdates
(long polling) and a webhook the emulator posts to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.parse

import httpx

from bot.emulator.answers import ApiError, DropConnection, JSONDict, Reply
from bot.emulator.params import flag, loopback_host, opt_int, opt_seconds, opt_str
from bot.emulator.records import Records

# Without an explicit allowed_updates Telegram delivers every type except these three.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_GET_UPDATES_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_GET_UPDATES_TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_SECRET_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _update_type(update: JSONDict) -> str:
    return next((key for key in update if key != "update_id"), "")


class UpdateMethods(Records):
    """add_update and the Bot API methods getUpdates, setWebhook, deleteWebhook, getWebhookInfo."""

    @property
    def polling(self) -> bool:
        """True while a getUpdates request is waiting for updates."""
        return self._active_polls > 0

    def add_update(self, payload: JSONDict) -> JSONDict:
        """Queues any update body; assigns `update_id` when it is missing.

        Like Telegram, an update of a type the bot's allowed_updates exclude (by default
        chat_member, message_reaction and message_reaction_count) is never queued.
        """
        update = dict(payload)
        # Telegram's updates are valid UTF-8; one that is not would fail every getUpdates
        # answer after it, so it is refused here rather than queued.
        json.dumps(update, ensure_ascii=False).encode()
        update_id = update.get("update_id")
        if isinstance(update_id, int):
            self._next_update_id = max(self._next_update_id, update_id + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        if not self._wanted(update):
            return update
        self._pending.append(update)
        self._updates_signal.notify()
        self._emit("update", update)
        return update

    def pending_updates(self) -> list[JSONDict]:
        return list(self._pending)

    def _wanted(self, update: JSONDict) -> bool:
        kind = _update_type(update)
        allowed = self._allowed_updates
        return kind in allowed if allowed else kind not in _OPT_IN_UPDATES

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise ApiError(409, _GET_UPDATES_WEBHOOK_CONFLICT)
        offset = opt_int(params, "offset") or 0
        limit = min(max(opt_int(params, "limit") or 100, 1), 100)
        timeout = opt_seconds(params, "timeout")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        self._poll_generation += 1
        generation = self._poll_generation
        # A newer getUpdates ends an older one that is still waiting, as on Telegram.
        self._updates_signal.notify()
        self._confirm(offset)
        deadline = time.monotonic() + timeout
        self._active_polls += 1
        try:
            while True:
                batch = self._pending[:limit]
                if batch or self._stopping:
                    return batch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                await self._updates_signal.wait(remaining)
                if self._offline:
                    raise DropConnection
                if self._poll_generation != generation:
                    raise ApiError(409, _GET_UPDATES_TERMINATED)
                if self.webhook is not None:
                    raise ApiError(409, _GET_UPDATES_WEBHOOK_CONFLICT)
        finally:
            self._active_polls -= 1

    async def _set_webhook(self, params: JSONDict) -> Reply:
        url = opt_str(params, "url") or ""
        if not url:
            return await self._delete_webhook(params)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if not loopback_host(parts.hostname):
            # The emulator never talks to anything but this machine.
            raise ApiError(
                400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
            )
        secret = opt_str(params, "secret_token")
        if secret is not None and not _SECRET_TOKEN_SHAPE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = opt_int(params, "max_connections")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise ApiError(400, "Bad Request: bad webhook: invalid max_connections")
        if flag(params, "drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed] or None
        unchanged = self.webhook == url and self.webhook_secret == secret
        self.webhook, self.webhook_secret = url, secret
        self._webhook_max_connections = max_connections or 40
        self._webhook_last_error = None
        # Wakes a waiting getUpdates so it answers 409 like Telegram.
        self._updates_signal.notify()
        await self._cancel_webhook_delivery()
        self._start_webhook_delivery()
        return Reply(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def _delete_webhook(self, params: JSONDict) -> Reply:
        if flag(params, "drop_pending_updates"):
            self._pending.clear()
        was_set = self.webhook is not None
        self.webhook = self.webhook_secret = None
        self._webhook_last_error = None
        await self._cancel_webhook_delivery()
        return Reply(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self._webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _start_webhook_delivery(self) -> None:
        self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())

    async def _cancel_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _deliver_webhooks(self) -> None:
        delay = 0.05
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
            while not self._stopping and self.webhook is not None:
                pending = self._pending
                if not pending:
                    await self._updates_signal.wait(None)
                    continue
                update = pending[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook_secret is not None:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                error = ""
                try:
                    response = await client.post(
                        self.webhook, content=json.dumps(update).encode(), headers=headers
                    )
                    status = response.status_code
                    error = f"Wrong response from the webhook: {status} {response.reason_phrase}"
                except httpx.HTTPError as exc:
                    status = 0
                    error = f"Connection failed: {exc.__class__.__name__}"
                self.webhook_deliveries.append((int(update["update_id"]), status))
                self._emit("webhook", {"update_id": update["update_id"], "status": status})
                if 200 <= status < 300:
                    with contextlib.suppress(ValueError):
                        self._pending.remove(update)
                    delay = 0.05
                    continue
                self._webhook_last_error = (int(time.time()), error)
                await self._sleep(delay)
                delay = min(delay * 2, 1.0)
