"""The kind of a test is its folder: each folder's conftest marks what it holds, so that
`pytest -m e2e`, `-m soak` and `-m browser` select by folder without a mark in every file."""

from __future__ import annotations

from pathlib import Path

import pytest


def mark_folder(items: list[pytest.Item], folder: Path, *marks: pytest.MarkDecorator) -> None:
    """Give every collected test below `folder` the `marks` (once each)."""
    for item in items:
        if item.path.is_relative_to(folder):
            for mark in marks:
                if item.get_closest_marker(mark.name) is None:
                    item.add_marker(mark)
