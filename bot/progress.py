"""A progress bar for the long commands (`tagwire push`, `backup`, `migrate-db`): drawn on
standard error while someone watches it (a terminal), nothing at all otherwise (CI, cron, a
pipe, a log file), so what the command prints on standard output is the same either way."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any

# From this total on, counts are shortened (12.3k rows): long numbers redrawn ten times a
# second are hard to read.
_SCALE_FROM = 10_000


class TerminalBar:
    """A tqdm bar of `unit`s on `stream` (standard error by default) when it is a terminal and
    `enabled`; every method does nothing otherwise. It is drawn at the first `start`, `advance`
    or `reach`, and left on the screen, at its last count, by `close`."""

    def __init__(self, unit: str, *, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self._unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._shown = enabled and self._stream.isatty()
        self._bar: Any = None

    @property
    def shown(self) -> bool:
        return self._shown

    def start(self, total: int | None = None) -> None:
        """Draw the bar; `total` None when it is not known (a count, no percentage)."""
        if not self._shown or self._bar is not None:
            return
        # Imported here: tqdm is only needed when a person is watching.
        from tqdm import tqdm  # type: ignore[import-untyped]

        self._bar = tqdm(
            total=total,
            unit=self._unit,
            unit_scale=total is not None and total >= _SCALE_FROM,
            dynamic_ncols=True,
            file=self._stream,
        )

    def advance(self, done: int = 1) -> None:
        """`done` more units are done."""
        if not self._shown:
            return
        self.start()
        self._bar.update(done)

    def reach(self, done: int, total: int) -> None:
        """`done` out of `total` are done (for work that reports where it is, not how much more
        it did)."""
        if not self._shown:
            return
        self.start(total)
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def describe(self, text: str) -> None:
        """Show `text` before the bar (what is being worked on)."""
        if self._bar is not None:
            self._bar.set_description(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TerminalBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
