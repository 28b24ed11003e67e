"""The layer contracts in pyproject.toml are checked, and a wrong import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import run_command
from tests.support.harness import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def copy_tree(target: Path) -> None:
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return run_command(str(LINT_IMPORTS), "--no-cache", cwd=tree, env=environment, timeout=120)


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("storage/models.py", "import bot.settings", "Storage imports nothing from the bot"),
        ("bot/delivery/engine.py", "import handlers.latest", "Delivery and intake never import"),
        ("bot/app.py", "import bot.emulator", "never imports the emulator or the sandbox"),
        ("bot/texts/formatting.py", "import bot.context", "Layers: wiring above handlers"),
    ],
)
def test_a_wrong_import_breaks_its_contract_by_name(
    tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    copy_tree(tmp_path)
    source = tmp_path / module
    source.write_text(source.read_text() + f"\n{bad_import}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in result.stdout
    assert "BROKEN" in result.stdout
