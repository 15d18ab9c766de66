"""Printing results: --json for scripts, rich text for people; errors as one line."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from ledger.errors import printable

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def fail_line(message: str) -> None:
    err.print(f"medledger: {printable(message)}", markup=False)


def usage_line(message: str) -> str:
    """A usage error as one line: its text joined, control characters escaped."""
    return printable(" ".join(message.split())) + " (see --help)"
