"""Published RFC 6962/9162 and C2SP vectors, run against ledger.log.

The files are written by ``generate.py`` beside this test; CI fails when
regenerating them would change a byte.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import VerificationError
from ledger.log.checkpoint import Checkpoint
from ledger.log.hashing import EMPTY_ROOT, leaf_hash, node_hash
from ledger.log.proofs import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.tlog_proof import parse_tlog_proof
from ledger.log.tree import (
    appended_nodes,
    frontier,
    root_from_frontier,
    root_of_leaf_hashes,
)

from . import generate

HERE = Path(__file__).resolve().parent


def _load(pattern: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(HERE.glob(pattern))
    assert files, pattern
    return [(p.relative_to(HERE).as_posix(), json.loads(p.read_text("utf-8"))) for p in files]


def _cases(pattern: str, max_size: int | None = None) -> list[Any]:
    return [
        pytest.param(vector, case, id=f"{name}#{i}")
        for name, vector in _load(pattern)
        for i, case in enumerate(vector["cases"])
        if max_size is None or case.get("size", case.get("new_size")) <= max_size
    ]


def test_regenerating_changes_nothing() -> None:
    assert generate.drift() == [], "run: python tests/vectors/generate.py"


def test_every_file_says_what_it_is_and_where_it_comes_from() -> None:
    owned = [item for folder in generate.OWNED_DIRS for item in _load(f"{folder}/*.json")]
    for name, vector in owned:
        assert vector["desc"] and isinstance(vector["want_error"], bool), name
        assert any(
            repo in vector["source"]
            for repo in ("transparency-dev/merkle", "google/certificate-transparency", "C2SP/C2SP")
        ), name
        for case in vector.get("cases", []):
            assert case["source"], name


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("vector", "case"), _cases("inclusion/*.json"))
def test_inclusion_vectors(vector: dict[str, Any], case: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            index=case["index"],
            size=case["size"],
            leaf_hash=_h(case["leaf_hash"]),
            proof=[_h(p) for p in case["proof"]],
            root=_h(case["root"]),
        )

    if vector["want_error"]:
        with pytest.raises(VerificationError):
            run()
    else:
        run()


@pytest.mark.parametrize(("vector", "case"), _cases("consistency/*.json"))
def test_consistency_vectors(vector: dict[str, Any], case: dict[str, Any]) -> None:
    def run() -> None:
        verify_consistency(
            old_size=case["old_size"],
            new_size=case["new_size"],
            old_root=_h(case["old_root"]),
            new_root=_h(case["new_root"]),
            proof=[_h(p) for p in case["proof"]],
        )

    if vector["want_error"]:
        with pytest.raises(VerificationError):
            run()
    else:
        run()


@pytest.mark.parametrize(("vector", "case"), _cases("hashing/*.json"))
def test_hasher_vectors(vector: dict[str, Any], case: dict[str, Any]) -> None:
    inputs = [_h(x) for x in case["inputs"]]
    got = {
        "empty": lambda: EMPTY_ROOT,
        "leaf": lambda: leaf_hash(*inputs),
        "node": lambda: node_hash(*inputs),
    }[case["kind"]]()
    assert got.hex() == case["want"]


REFERENCE = json.loads((HERE / "tree" / "reference-8-leaves.json").read_text("utf-8"))
NODES = {(n["level"], n["index"]): _h(n["hash"]) for n in REFERENCE["perfect_nodes"]}
LEAF_HASHES = [leaf_hash(_h(x)) for x in REFERENCE["leaf_inputs"]]


def test_reference_tree_roots_and_frontiers() -> None:
    assert LEAF_HASHES == [NODES[(0, i)] for i in range(8)]
    for entry, compact in zip(REFERENCE["roots"], REFERENCE["frontiers"], strict=True):
        size = entry["size"]
        assert frontier(size) == [tuple(n) for n in compact["nodes"]]
        assert root_of_leaf_hashes(LEAF_HASHES[:size]).hex() == entry["root"]
        hashes = [NODES[n] for n in frontier(size)]
        assert root_from_frontier(size, hashes).hex() == entry["root"]


def test_reference_tree_appends_to_the_published_nodes() -> None:
    made = appended_nodes(size=0, frontier_hashes=[], leaf_hashes=LEAF_HASHES)
    assert {(lv, i): h for lv, i, h in made} == NODES


# Only the 8-leaf reference tree has published nodes (not the CT log's audit path).
@pytest.mark.parametrize(("vector", "case"), _cases("inclusion/happy-path.json", max_size=8))
def test_inclusion_proofs_built_from_the_published_nodes(
    vector: dict[str, Any], case: dict[str, Any]
) -> None:
    proof = inclusion_proof(index=case["index"], size=case["size"], nodes=NODES)
    assert [p.hex() for p in proof] == case["proof"]


@pytest.mark.parametrize(("vector", "case"), _cases("consistency/happy-path.json"))
def test_consistency_proofs_built_from_the_published_nodes(
    vector: dict[str, Any], case: dict[str, Any]
) -> None:
    proof = consistency_proof(old_size=case["old_size"], new_size=case["new_size"], nodes=NODES)
    assert [p.hex() for p in proof] == case["proof"]


C2SP_EXAMPLES = json.loads((HERE / "c2sp" / "spec-examples.json").read_text("utf-8"))


def test_c2sp_checkpoint_example_parses() -> None:
    note = C2SP_EXAMPLES["checkpoint_note"]
    body = note[: note.rindex("\n\n") + 1]
    want = C2SP_EXAMPLES["checkpoint"]
    cp = Checkpoint.parse(body)
    assert (cp.origin, cp.size, base64.b64encode(cp.root).decode()) == (
        want["origin"],
        want["size"],
        want["root_base64"],
    )
    assert cp.to_text() == body


def test_c2sp_tlog_proof_example_parses_once_its_signatures_are_whole() -> None:
    text = C2SP_EXAMPLES["tlog_proof"]
    # The spec elides each signature as "<start>[...]<end>"; put a well-formed one there.
    whole = base64.b64encode(b"\x01" * 68).decode()
    lines = [
        line if "[...]" not in line else line.rsplit(" ", 1)[0] + " " + whole
        for line in text.split("\n")
    ]
    proof = parse_tlog_proof("\n".join(lines))
    assert proof.index == 73894
    assert len(proof.proof) == 5
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.checkpoint.origin == "example.com/fancylog"
    assert proof.checkpoint.size == 109482
    assert proof.to_text() == "\n".join(lines)
