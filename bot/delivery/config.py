"""How the delivery engine paces itself: Telegram's limits, batch sizes, retries and waits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    rate_limit: float = 25.0
    private_interval: float = 1.0
    group_interval: float = 3.0
    poll_interval: float = 1.0
    claim_batch: int = 500
    # Rows beyond this many per chat wait in the database, so one busy chat cannot crowd out
    # the others (memory is bounded by claim_batch either way).
    per_chat_queue: int = 10
    max_attempts: int = 10
    max_backoff: float = 300.0
    # Longest wait between two probes of an unreachable Telegram: the delay, at worst,
    # between its return and the first delivery after it.
    outage_max_backoff: float = 15.0
    flush_interval: float = 0.1
    flush_size: int = 200
    lease: float = 3600.0
    shutdown_grace: float = 10.0

    @property
    def max_in_flight(self) -> int:
        # Enough overlapping requests to hold the rate with calls of up to two seconds.
        return max(8, min(512, int(self.rate_limit * 2)))
