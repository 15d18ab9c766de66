"""The import graph of ledger/ and cli/ points downward (docs/architecture.md).

Every import counts, lazy and ``TYPE_CHECKING`` ones included: a unit may import from its own
tier or below, and the top-level packages form no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import cli
import ledger

ROOT = Path(ledger.__file__).resolve().parent.parent

# Top to bottom. A new top-level package or module must be placed here.
TIERS: list[set[str]] = [
    {"cli"},
    {"service"},
    {"bundle", "reports", "datasets"},
    {"similarity", "consent"},
    {"registration", "lineage"},
    {"forensics"},
    {"imaging"},
    {"fingerprint"},
    {"sequencer", "projections", "workerpool", "handle", "sourcelog", "rebuild", "lineagelog"},
    {"guard"},
    {"checkpoints", "directory", "pubkeys"},
    {"store", "audit"},
    {"processes", "processguard", "forkserver_guard"},
    {"model"},
    {"log", "crypto"},
    {"errors"},
]
TIER = {unit: n for n, units in enumerate(TIERS) for unit in units}


def unit_of(module: str) -> str | None:
    """``cli``, or the top-level package or module of ``ledger`` a module belongs to."""
    parts = module.split(".")
    if parts[0] == "cli":
        return "cli"
    if parts[0] != "ledger" or len(parts) < 2:
        return None  # third-party, or ledger/__init__.py's lazy public names
    return parts[1]


def imported(path: Path) -> Iterable[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ledger":
                for alias in node.names:
                    yield node.lineno, f"ledger.{alias.name}"
            else:
                yield node.lineno, node.module


def edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import between two units."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    cli_files = sorted(Path(cli.__file__).parent.glob("*.py"))
    files = [*sorted((ROOT / "ledger").rglob("*.py")), *cli_files]
    for path in files:
        rel = path.relative_to(ROOT)
        source = unit_of(".".join(rel.with_suffix("").parts))
        for line, name in imported(path):
            target = unit_of(name)
            if source is not None and target is not None and target != source:
                found[(source, target)].append(f"{rel}:{line} imports {name}")
    return found


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_unit_has_a_tier() -> None:
    units = {u for pair in edges() for u in pair}
    assert len(units) >= 15
    assert sorted(units - TIER.keys()) == []


def test_no_import_points_upward() -> None:
    upward = [
        where
        for (a, b), places in sorted(edges().items())
        if a in TIER and b in TIER and TIER[b] < TIER[a]
        for where in places
    ]
    assert upward == []


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges():
        graph[a].add(b)
    assert cycles(graph) == []


def test_cycle_finder_finds_cycles() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e2"], "e2": ["e"]}
    assert cycles(graph) == [["a", "b", "c"], ["e", "e2"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_the_service_is_above_every_feature() -> None:
    features = {"bundle", "reports", "similarity", "registration", "imaging", "fingerprint"}
    assert all(TIER["service"] < TIER[f] for f in features)
    assert TIER["cli"] < TIER["service"]
