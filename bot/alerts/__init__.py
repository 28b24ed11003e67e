"""Alerts to operators: the leader tells the admins (TAGWIRE_ADMIN_IDS) in Telegram once when
an incident starts and once when it is over.

The incidents: a feed failing TAGWIRE_ALERT_FEED_FAILURES polls in a row (and its pause after
TAGWIRE_FEED_PAUSE_AFTER, done by the feed poller), the oldest due delivery waiting longer than
TAGWIRE_ALERT_OUTBOX_AGE, Telegram unreachable longer than TAGWIRE_ALERT_TELEGRAM_DOWN, and the
database refusing writes. `incidents` decides what starts and ends from what was seen (pure),
`notices` words it in the admin's language, `notifier` sends it to each admin within Telegram's
limits (and keeps what could not be sent for later), `monitor` looks every
TAGWIRE_ALERT_CHECK_INTERVAL seconds and keeps the incidents announced in the database, so that
a new leader announces nothing twice. bot/instance.py starts it when this instance leads.

May import: `bot.delivery`, `bot.intake`, `bot.texts`, `bot.settings`, `storage`.
Never: `handlers`, `bot.web`, `bot.context`, `bot.metrics` and the wiring above them.
"""

from __future__ import annotations

from bot.alerts.monitor import AlertMonitor

__all__ = ["AlertMonitor"]
