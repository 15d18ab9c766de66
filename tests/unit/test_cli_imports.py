"""cli/ imports only ledger.service (and its submodules) and ledger.errors (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import cli

CLI = Path(cli.__file__).resolve().parent


def ledger_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``ledger`` module, including lazy ones."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ledger"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ledger":  # from ledger import service, errors
                found += [(node.lineno, f"ledger.{a.name}") for a in node.names]
            elif node.module.startswith("ledger."):
                found.append((node.lineno, node.module))
    return found


def forbidden(source: str) -> list[tuple[int, str]]:
    def allowed(name: str) -> bool:
        return name in ("ledger.errors", "ledger.service") or name.startswith("ledger.service.")

    return sorted((line, name) for line, name in ledger_imports(source) if not allowed(name))


def test_cli_imports_only_the_service_and_errors() -> None:
    modules = sorted(CLI.glob("*.py"))
    assert len(modules) >= 10
    bad = [
        f"cli/{path.name}:{line} imports {name}"
        for path in modules
        for line, name in forbidden(path.read_text("utf-8"))
    ]
    assert bad == []


def test_the_rule_sees_every_form_of_import() -> None:
    source = (
        "import ledger.store\n"
        "from ledger.similarity.sets import resolve\n"
        "from ledger import bundle, errors\n"
        "def f():\n"
        "    from ledger.registration import pipeline\n"
        "from ledger.service.similarity import scan\n"
        "from ledger.services import x\n"
        "import ledgerx\n"
    )
    assert forbidden(source) == [
        (1, "ledger.store"),
        (2, "ledger.similarity.sets"),
        (3, "ledger.bundle"),
        (5, "ledger.registration"),
        (7, "ledger.services"),
    ]
