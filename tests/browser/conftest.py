"""Every test here drives a real browser: marked `browser` (and `e2e`, as the page runs the
whole bot against the emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.markers import mark_folder


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.e2e, pytest.mark.browser)
