from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_env_example_and_readme(field: str) -> None:
    name = f"TAGWIRE_{field.upper()}"
    assert f"{name}=" in (ROOT / ".env.example").read_text(), name
    assert f"`{name}`" in (ROOT / "README.md").read_text(), name


def test_env_example_names_only_real_settings() -> None:
    names = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert names <= {f"TAGWIRE_{field.upper()}" for field in Settings.model_fields}
