"""ledger/log is pure: it imports only the standard library and ledger.errors."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ledger.log

PACKAGE = Path(ledger.log.__file__).resolve().parent
ALLOWED = {"ledger.errors"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_log_imports_only_stdlib_and_errors() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            ok = top in sys.stdlib_module_names or name in ALLOWED or name.startswith("ledger.log.")
            assert ok, f"{path.name} imports {name}"


def test_modules_stay_small() -> None:
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text("utf-8").splitlines()) <= 320, path.name
