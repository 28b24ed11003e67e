"""What the emulator answers and records: Telegram's JSON envelope around a method's result.

A Bot API method either returns its result (or a `Reply` when Telegram puts a `description`
next to it), raises `ApiError` for an `"ok": false` answer, or raises `DropConnection` to
close the client's connection with no answer at all. `ApiCall` is how each request is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made and what the emulator answered.

    `status` is 0 when the emulator dropped the connection instead of answering.
    """

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


class ApiError(Exception):
    """An `"ok": false` answer: its status, Telegram's description and `parameters`."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class DropConnection(Exception):
    """Raised inside a handler to close the client's connection without an answer."""

    def __init__(self, *, handled: bool = False) -> None:
        super().__init__()
        # True when the request took effect and only its answer is lost.
        self.handled = handled


@dataclass(frozen=True)
class Reply:
    """A successful result that carries Telegram's optional `description` next to it."""

    result: Any
    description: str
