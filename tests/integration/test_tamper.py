"""Tampering with a real SQLite ledger file, as an attacker holding the file would.

Each case drops the append-only triggers with plain sqlite3, changes the
database, and runs the real ``medledger verify``: exit 1, the first bad index
named as ``entry N:`` on stderr and as ``{"ok": false, "index": N}`` with --json.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import VerificationError
from ledger.service import Ledger
from ledger.store.tables import node_key

from .builders import SIZE, RunCli, attacker, build, copy_database, extend, opened

Tamper = Callable[[sqlite3.Connection], None]


def leaf_of(conn: sqlite3.Connection, idx: int) -> dict:
    row = conn.execute("SELECT leaf FROM log_leaves WHERE idx = ?", (idx,)).fetchone()
    return json.loads(row[0])


def store_leaf(conn: sqlite3.Connection, idx: int, leaf: dict, *, rehash: bool) -> None:
    """Write a leaf back canonically; a careful attacker also fixes the stored hashes."""
    data = rfc8785.dumps(leaf)
    conn.execute("UPDATE log_leaves SET leaf = ? WHERE idx = ?", (data, idx))
    if rehash:
        digest = hashlib.sha256(b"\x00" + data).digest()
        conn.execute("UPDATE log_leaves SET leaf_hash = ? WHERE idx = ?", (digest, idx))
        conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (digest, node_key(0, idx)))
        envelope = hashlib.sha256(rfc8785.dumps(leaf["envelope"])).digest()
        conn.execute("UPDATE log_leaves SET envelope_hash = ? WHERE idx = ?", (envelope, idx))


def change_one_byte(conn: sqlite3.Connection) -> None:
    (leaf,) = conn.execute("SELECT leaf FROM log_leaves WHERE idx = 3").fetchone()
    at = bytes(leaf).index(b'"carol"') + 1
    changed = bytes(leaf[:at]) + b"k" + bytes(leaf[at + 1 :])
    conn.execute("UPDATE log_leaves SET leaf = ? WHERE idx = 3", (changed,))


def delete_entry(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM log_leaves WHERE idx = 2")


def swap_entries(conn: sqlite3.Connection) -> None:
    cols = "leaf, leaf_hash, envelope_hash, kind, actor"
    two = conn.execute(f"SELECT {cols} FROM log_leaves WHERE idx = 2").fetchone()  # noqa: S608
    three = conn.execute(f"SELECT {cols} FROM log_leaves WHERE idx = 3").fetchone()  # noqa: S608
    sets = "leaf = ?, leaf_hash = ?, envelope_hash = ?, kind = ?, actor = ?"
    conn.execute("UPDATE log_leaves SET envelope_hash = x'00' WHERE idx = 2")
    conn.execute(f"UPDATE log_leaves SET {sets} WHERE idx = 3", (*two,))  # noqa: S608
    conn.execute(f"UPDATE log_leaves SET {sets} WHERE idx = 2", (*three,))  # noqa: S608


def signature_of_other_entry(conn: sqlite3.Connection) -> None:
    # Entries 2 and 3 are both signed by the admin key: a valid signature, wrong entry.
    leaf = leaf_of(conn, 3)
    leaf["envelope"]["sig"] = leaf_of(conn, 2)["envelope"]["sig"]
    store_leaf(conn, 3, leaf, rehash=True)


def garbage_signature(conn: sqlite3.Connection) -> None:
    leaf = leaf_of(conn, 3)
    leaf["envelope"]["sig"] = base64.b64encode(os.urandom(64)).decode()
    store_leaf(conn, 3, leaf, rehash=True)


def unparseable_signature(conn: sqlite3.Connection) -> None:
    leaf = leaf_of(conn, 3)
    leaf["envelope"]["sig"] = "not a signature"
    store_leaf(conn, 3, leaf, rehash=False)


def truncate_log(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM log_leaves WHERE idx >= 4")


def truncate_everything(conn: sqlite3.Connection) -> None:
    """Leaves, their tree nodes and every stored checkpoint above size 4: only the
    ledger directory's checkpoint file still remembers size 6."""
    conn.execute("DELETE FROM log_leaves WHERE idx >= 4")
    conn.execute("DELETE FROM checkpoints WHERE size > 4")
    for level, first in [(0, 4), (0, 5), (1, 2)]:
        conn.execute("DELETE FROM tree_nodes WHERE key = ?", (node_key(level, first),))


def tree_node_level1(conn: sqlite3.Connection) -> None:
    # Node (level 1, index 1) covers leaves 2 and 3.
    conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (b"\x11" * 32, node_key(1, 1)))


def tree_node_leaf(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (b"\x22" * 32, node_key(0, 5)))


def leaf_hash_column(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE log_leaves SET leaf_hash = ? WHERE idx = 4", (b"\x33" * 32,))


def kind_column(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE log_leaves SET kind = 'key.revoked' WHERE idx = 1")


def rechained_edit(conn: sqlite3.Connection) -> None:
    """Edit entry 1 and rebuild every later hash, link and tree node consistently:
    only the signature over entry 1 can give it away."""
    leaves = [leaf_of(conn, i) for i in range(SIZE)]
    leaves[1]["envelope"]["entry"]["body"]["role"] = "admin"
    prev = leaves[0]["prev"]
    hashes = []
    for leaf in leaves:
        leaf["prev"] = prev
        data = rfc8785.dumps(leaf)
        digest = hashlib.sha256(b"\x00" + data).digest()
        conn.execute("UPDATE log_leaves SET leaf = ?, leaf_hash = ? WHERE idx = ?",
                     (data, digest, len(hashes)))
        hashes.append(digest)
        prev = digest.hex()
    level, row = 0, hashes
    while len(row) > 1:
        for i, digest in enumerate(row):
            key = node_key(level, i)
            conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (digest, key))
        row = [hashlib.sha256(b"\x01" + row[i] + row[i + 1]).digest()
               for i in range(0, len(row) - 1, 2)]
        level += 1
    conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (row[0], node_key(level, 0)))
    conn.execute("DELETE FROM checkpoints")


def node_of_1_and_leaf_hash_of_4(conn: sqlite3.Connection) -> None:
    """Two changes: the earlier index must be the one named."""
    conn.execute("UPDATE tree_nodes SET hash = ? WHERE key = ?", (b"\x44" * 32, node_key(0, 1)))
    leaf_hash_column(conn)


CASES: dict[str, tuple[Tamper, int]] = {
    "change-one-byte-of-entry-3": (change_one_byte, 3),
    "delete-entry-2": (delete_entry, 2),
    "swap-entries-2-and-3": (swap_entries, 2),
    "signature-of-another-entry-at-3": (signature_of_other_entry, 3),
    "garbage-signature-at-3": (garbage_signature, 3),
    "unparseable-signature-at-3": (unparseable_signature, 3),
    "truncate-to-4": (truncate_log, 4),
    "truncate-leaves-nodes-and-checkpoints-to-4": (truncate_everything, 4),
    "tree-node-over-leaves-2-3": (tree_node_level1, 2),
    "tree-node-of-leaf-5": (tree_node_leaf, 5),
    "leaf-hash-column-of-4": (leaf_hash_column, 4),
    "kind-column-of-1": (kind_column, 1),
    "entry-1-edited-and-log-rechained": (rechained_edit, 1),
    "tree-node-of-1-and-leaf-hash-of-4": (node_of_1_and_leaf_hash_of_4, 1),
}


@pytest.fixture
def six(tmp_path: Path) -> Path:
    """The standard six-entry history (see builders.HISTORY)."""
    return build(tmp_path / "ledger")


def assert_names_index(result, index: int) -> None:
    assert result.rc == 1, (result.stdout, result.stderr)
    line = result.error_line()
    assert f"entry {index}:" in line, line
    report = result.json()
    assert report["ok"] is False
    assert report["index"] == index
    assert report["reason"].startswith(f"entry {index}: ")


def test_untampered_ledger_verifies(six: Path, run_cli: RunCli) -> None:
    with attacker(six):
        pass  # dropping the triggers alone changes no evidence
    result = run_cli("verify", "--json", ledger=six)
    assert result.rc == 0, result.stderr
    report = result.json()
    assert report["ok"] is True
    assert report["size"] == SIZE
    assert report["signatures"] == SIZE
    assert report["keys"] == 5


@pytest.mark.parametrize("case", list(CASES))
def test_tamper_is_found_at_the_right_index(case: str, six: Path, run_cli: RunCli) -> None:
    tamper, index = CASES[case]
    with attacker(six) as conn:
        tamper(conn)
    assert_names_index(run_cli("verify", "--json", ledger=six), index)


@pytest.mark.parametrize(
    "case",
    ["change-one-byte-of-entry-3", "delete-entry-2", "swap-entries-2-and-3", "truncate-to-4",
     "tree-node-over-leaves-2-3", "tree-node-of-leaf-5", "leaf-hash-column-of-4"],
)
def test_tree_only_finds_structural_tamper(case: str, six: Path, cli: RunCli) -> None:
    tamper, index = CASES[case]
    with attacker(six) as conn:
        tamper(conn)
    result = cli("verify", "--tree-only", "--json", ledger=six)
    assert_names_index(result, index)


def test_text_output_names_the_index(six: Path, run_cli: RunCli) -> None:
    with attacker(six) as conn:
        delete_entry(conn)
    result = run_cli("verify", ledger=six)
    assert result.rc == 1
    assert result.stdout == ""
    assert result.error_line().startswith("medledger: entry 2: index 2 is missing")


def test_promoting_a_key_in_the_projection_is_refused(six: Path, cli: RunCli) -> None:
    """The keys table is a projection; promoting alice there gets nothing appended:
    the sequencer takes roles from the signed log (ledger.guard), as the audit does."""
    with attacker(six) as conn:
        conn.execute("UPDATE keys SET role = 'admin' WHERE name = 'alice'")
    appended = cli("keys", "add", "mallory", "--role", "admin", "--by", "alice", ledger=six)
    assert appended.rc == 2
    assert "key alice has role submitter" in appended.error_line()
    with opened(six) as ledger:
        assert ledger.size() == SIZE


# --- rollback behind a newer checkpoint -----------------------------------------------


@pytest.fixture
def rolled_back(tmp_path: Path, run_cli: RunCli) -> tuple[Path, Path]:
    """A ledger of 6 whose database was swapped for its own copy at size 4; returns
    (ledger dir, the size-6 checkpoint saved by a client)."""
    directory = build(tmp_path / "ledger", upto=4)
    copy_database(directory, tmp_path / "old.db")
    extend(directory, SIZE)
    saved = tmp_path / "seen-checkpoint.txt"
    shown = run_cli("checkpoint", ledger=directory)
    assert shown.rc == 0
    saved.write_text(shown.stdout)
    assert shown.stdout.split("\n")[1] == str(SIZE)
    (tmp_path / "old.db").replace(directory / "ledger.db")
    return directory, saved


def test_rollback_behind_the_directory_checkpoint(
    rolled_back: tuple[Path, Path], run_cli: RunCli
) -> None:
    directory, _ = rolled_back
    result = run_cli("verify", "--json", ledger=directory)
    assert_names_index(result, 4)
    assert "truncated or rolled back" in result.json()["reason"]


def test_rollback_behind_a_given_checkpoint(
    rolled_back: tuple[Path, Path], run_cli: RunCli
) -> None:
    directory, saved = rolled_back
    for name in ("checkpoint", "checkpoints", "state.json"):  # the attacker holds the
        (directory / name).unlink()  # directory too
    # Without outside evidence a consistent older copy is indistinguishable ...
    assert run_cli("verify", "--json", ledger=directory).rc == 0
    # ... but not from a checkpoint a client saw earlier.
    assert_names_index(run_cli("verify", "--json", "--checkpoint", saved, ledger=directory), 4)


def test_fork_behind_a_given_checkpoint(tmp_path: Path, run_cli: RunCli) -> None:
    """Same size, different history: the saved checkpoint's root gives it away."""
    directory = build(tmp_path / "ledger")
    saved = tmp_path / "seen.txt"
    saved.write_text(run_cli("checkpoint", ledger=directory).stdout)
    with attacker(directory) as conn:
        rechained_edit(conn)
    for name in ("checkpoint", "checkpoints", "state.json"):  # the directory's too
        (directory / name).unlink()
    result = run_cli("verify", "--tree-only", "--json", "--checkpoint", saved, ledger=directory)
    assert result.rc == 1
    assert result.json()["index"] == SIZE - 1
    assert "checkpoint says" in result.json()["reason"]


def test_checkpoint_of_another_log_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=2)
    other = build(tmp_path / "other", upto=2)
    foreign = tmp_path / "foreign.txt"
    foreign.write_text(run_cli("checkpoint", ledger=other).stdout)
    result = run_cli("verify", "--checkpoint", foreign, ledger=directory)
    assert result.rc == 1
    assert "no verifiable signatures" in result.error_line()


# --- property: any byte of any stored leaf ------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("pristine") / "ledger")


def _writable_copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    config["database_url"] = f"sqlite:///{target / 'ledger.db'}"
    (target / "config.json").write_text(json.dumps(config))
    return target


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(idx=st.integers(0, SIZE - 1), where=st.floats(0, 1, exclude_max=True),
       flip=st.integers(1, 255))
def test_any_changed_byte_is_found_at_its_index(
    pristine: Path, idx: int, where: float, flip: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        directory = _writable_copy(pristine, Path(tmp) / "ledger")
        with attacker(directory) as conn:
            (leaf,) = conn.execute("SELECT leaf FROM log_leaves WHERE idx = ?", (idx,)).fetchone()
            data = bytearray(leaf)
            at = int(where * len(data))
            data[at] ^= flip
            conn.execute("UPDATE log_leaves SET leaf = ? WHERE idx = ?", (bytes(data), idx))
        with opened(directory) as ledger, pytest.raises(VerificationError) as caught:
            ledger.verify()
        assert caught.value.index == idx, caught.value.diagnostics()


def test_a_fresh_ledger_object_sees_the_tamper(six: Path) -> None:
    """Verification reads the file as it is now: no cache hides a change."""
    ledger = Ledger.open(six)
    try:
        ledger.verify()
        with attacker(six) as conn:
            change_one_byte(conn)
        with pytest.raises(VerificationError) as caught:
            ledger.verify()
        assert caught.value.index == 3
    finally:
        ledger.store.engine.dispose()
