"""The default registry lists every module that declares entry kinds or projections, and no
test patches a global registry (tests build their own with ``with_kinds``)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from ledger.model import registry
from ledger.model.registry import DEFAULT_KINDS, DEFAULT_PROJECTIONS, projections_of

ROOT = Path(__file__).resolve().parents[3]
# the old globals and their registering functions, as whole names (DEFAULT_KINDS is fine)
PATCHED = re.compile(r"\b(_KINDS|_PROJECTIONS|register_kind|register_projection)\b")


def _declaring_modules(name: str) -> set[str]:
    """Modules under ledger/ that assign ``name`` at module level."""
    found = set()
    for path in sorted((ROOT / "ledger").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                module = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
                found.add(module.removesuffix(".__init__"))
    return found


def test_every_module_declaring_kinds_is_listed() -> None:
    listed = {module.__name__ for module in registry.MODULES}
    declaring = _declaring_modules("KINDS")
    assert declaring, "the scan found no KINDS at all"
    assert declaring == listed


def test_every_module_declaring_projections_is_listed() -> None:
    listed = {module.__name__ for module in registry.MODULES}
    assert _declaring_modules("PROJECTIONS") == listed


def test_the_defaults_hold_every_declared_kind_and_projection() -> None:
    for name in sorted(_declaring_modules("KINDS") | _declaring_modules("PROJECTIONS")):
        module = importlib.import_module(name)
        for spec in module.KINDS:
            assert DEFAULT_KINDS.spec(spec.name) is spec, spec.name
        for kind, projection in module.PROJECTIONS.items():
            assert DEFAULT_PROJECTIONS[kind] is projection, kind
    # every projection belongs to a kind the registry accepts
    assert set(DEFAULT_PROJECTIONS) <= {spec.name for spec in DEFAULT_KINDS}


def test_the_default_projections_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_PROJECTIONS["test.note"] = DEFAULT_PROJECTIONS["key.added"]  # type: ignore[index]
    assert "test.note" not in DEFAULT_PROJECTIONS


def test_a_kind_projected_twice_is_a_programming_error() -> None:
    key_added = DEFAULT_PROJECTIONS["key.added"]
    with pytest.raises(ValueError, match=r"entry kind key\.added has two projections"):
        projections_of({"key.added": key_added}, {"key.added": key_added})


def test_no_test_patches_a_global_registry() -> None:
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in PATCHED.findall(text)]
    assert offenders == []


def test_the_scan_for_patched_globals_finds_them() -> None:
    """The check above can fail: it finds the old patching line in a sample."""
    sample = 'monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))'
    assert PATCHED.findall(sample) == ["_KINDS", "_KINDS"]
    assert PATCHED.findall("kinds.register_kind(...); DEFAULT_KINDS.with_kinds(NOTE)") == [
        "register_kind"]
