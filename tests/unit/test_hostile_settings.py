"""TAGWIRE_TRUSTED_PROXIES: addresses or networks, nothing else; none by default."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, load_settings


def test_no_proxy_is_trusted_by_default() -> None:
    assert Settings(_env_file=None).trusted_proxies == ()  # type: ignore[call-arg]


def test_addresses_and_networks_are_read_from_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAGWIRE_TRUSTED_PROXIES", " 10.0.0.1, 192.168.0.0/16 ,::1,")
    assert load_settings(_env_file=None).trusted_proxies == ("10.0.0.1", "192.168.0.0/16", "::1")


@pytest.mark.parametrize("value", ["*", "localhost", "10.0.0.1/40", "10.0.0.1;10.0.0.2"])
def test_anything_else_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TAGWIRE_TRUSTED_PROXIES", value)
    with pytest.raises(SettingsError, match="TAGWIRE_TRUSTED_PROXIES"):
        load_settings(_env_file=None)
