"""Fixtures for registration tests (helpers live in support.py and data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import make_ledger


@pytest.fixture
def reg_ledger(tmp_path: Path) -> Path:
    """A fresh SQLite ledger in ``tmp_path / "ledger"`` with a submitter and a verifier key."""
    return make_ledger(tmp_path / "ledger")
