"""The core flow on a real PostgreSQL (started by the ``postgres_server`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ledger.errors import InputError
from ledger.store import Store
from ledger.store.tables import APPEND_ONLY_TABLES

from .builders import HISTORY, SIZE, RunCli, build, opened
from .independent import (
    leaf_hash_of,
    mth,
    note_verifies,
    parse_checkpoint,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.postgres


def test_core_flow_from_the_command_line(
    tmp_path: Path, postgres_url: str, run_cli: RunCli
) -> None:
    directory = tmp_path / "ledger"
    made = run_cli("init", "--database-url", postgres_url, "--json", ledger=directory)
    assert made.rc == 0, made.stderr
    vkey = made.json()["vkey"]
    assert not (directory / "ledger.db").exists()
    assert json.loads((directory / "config.json").read_text())["database_url"].startswith(
        "postgresql")
    for name, role in [("alice", "submitter"), ("bob", "curator"), ("carol", "admin")]:
        added = run_cli("keys", "add", name, "--role", role, "--json", ledger=directory)
        assert added.rc == 0, added.stderr
    assert run_cli("keys", "revoke", "bob", ledger=directory).rc == 0
    refused = run_cli("keys", "add", "eve", "--role", "admin", "--by", "alice", ledger=directory)
    assert refused.rc == 2
    refused.error_line()

    entries = run_cli("log", "entries", "--json", ledger=directory).json()
    assert len(entries) == 5
    hashes = [leaf_hash_of(e["leaf"]) for e in entries]
    prev = "0" * 64
    for entry, digest in zip(entries, hashes, strict=True):
        assert entry["leaf"]["prev"] == prev and entry["leaf_hash"] == digest.hex()
        prev = entry["leaf_hash"]

    note = run_cli("checkpoint", ledger=directory).stdout
    assert note_verifies(note, vkey)
    checkpoint = parse_checkpoint(note)
    assert (checkpoint.size, checkpoint.root) == (5, mth(hashes))
    proof = run_cli("proof", "inclusion", "2", "--json", ledger=directory).json()
    assert verify_inclusion(index=2, size=5, leaf=hashes[2],
                            proof=[bytes.fromhex(h) for h in proof["hashes"]],
                            root=checkpoint.root)
    with opened(directory) as ledger:  # every index, without a process each
        for index in range(5):
            assert verify_inclusion(index=index, size=5, leaf=hashes[index],
                                    proof=ledger.inclusion_proof(index).hashes,
                                    root=checkpoint.root)
    consistency = run_cli("proof", "consistency", "3", "5", "--json", ledger=directory).json()
    assert verify_consistency(old_size=3, new_size=5, old_root=mth(hashes[:3]),
                              new_root=checkpoint.root,
                              proof=[bytes.fromhex(h) for h in consistency["hashes"]])

    verified = run_cli("verify", "--json", ledger=directory)
    assert verified.rc == 0, verified.stderr
    assert verified.json()["size"] == 5

    bundle = tmp_path / "bundle.json"
    assert run_cli("bundle", "export", bundle, ledger=directory).rc == 0
    offline = run_cli("verify", "--bundle", bundle, "--pubkey", vkey, "--json")
    assert offline.rc == 0, offline.stderr
    assert offline.json()["size"] == 5


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_triggers_reject_update_delete_truncate(
    tmp_path: Path, postgres_url: str, table: str
) -> None:
    build(tmp_path / "ledger", upto=3, database_url=postgres_url)
    column = {"log_leaves": "kind", "tree_nodes": "hash", "checkpoints": "note"}[table]
    value = {"log_leaves": "'x'", "tree_nodes": "'\\x00'::bytea", "checkpoints": "'x'"}[table]
    statements = [
        f"UPDATE {table} SET {column} = {value}",  # noqa: S608 - fixed names
        f"DELETE FROM {table}",  # noqa: S608
        f"TRUNCATE {table}",
    ]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        before = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608
        assert before
        for statement in statements:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        assert conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == before  # noqa: S608


def test_inserting_is_still_allowed_by_the_triggers(tmp_path: Path, postgres_url: str) -> None:
    """The triggers guard UPDATE/DELETE only: the sequencer's inserts go through."""
    directory = build(tmp_path / "ledger", upto=2, database_url=postgres_url)
    with opened(directory) as ledger:
        ledger.add_key("more", "verifier")
        assert ledger.size() == 3


def _tamper(url: str, sql: str, params: tuple[object, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in APPEND_ONLY_TABLES:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute(sql, params)


def test_tamper_on_postgres_is_found(tmp_path: Path, postgres_url: str, run_cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", database_url=postgres_url)
    assert run_cli("verify", ledger=directory).rc == 0
    with psycopg.connect(postgres_url) as conn:
        (leaf,) = conn.execute("SELECT leaf FROM log_leaves WHERE idx = 3").fetchone()
    changed = bytes(leaf).replace(b'"carol"', b'"karol"')
    _tamper(postgres_url, "UPDATE log_leaves SET leaf = %s WHERE idx = 3", (changed,))
    result = run_cli("verify", "--json", ledger=directory)
    assert result.rc == 1
    assert result.json()["index"] == 3
    assert "entry 3:" in result.error_line()


def test_truncation_on_postgres_is_found(
    tmp_path: Path, postgres_url: str, run_cli: RunCli
) -> None:
    directory = build(tmp_path / "ledger", database_url=postgres_url)
    _tamper(postgres_url, "DELETE FROM log_leaves WHERE idx >= 4")
    result = run_cli("verify", "--json", ledger=directory)
    assert result.rc == 1
    assert result.json()["index"] == 4


def test_a_database_holds_one_ledger(tmp_path: Path, postgres_url: str) -> None:
    import gc

    build(tmp_path / "first", upto=1, database_url=postgres_url)
    with pytest.raises(InputError, match="already holds a ledger"):
        Store.create(postgres_url)
    gc.collect()  # a refused create must not leave a connection open (ResourceWarning)


def test_history_is_the_same_on_both_backends(tmp_path: Path, postgres_url: str) -> None:
    """Same entries, same rules: the two stores produce logs of the same shape."""
    sqlite_dir = build(tmp_path / "sqlite")
    pg_dir = build(tmp_path / "pg", database_url=postgres_url)
    shapes = []
    for directory in (sqlite_dir, pg_dir):
        with opened(directory) as ledger:
            report = ledger.verify()
            shapes.append((report.size, report.keys, report.kinds,
                           [(k.name, k.role, k.added_index, k.revoked_index)
                            for k in ledger.list_keys()]))
    assert shapes[0] == shapes[1]
    assert shapes[0][0] == SIZE == len(HISTORY)


def test_duplicate_checks_on_postgres(tmp_path: Path, postgres_url: str, cli: RunCli) -> None:
    """Registration's duplicate check, its recorded edges and `similar`, on PostgreSQL."""
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.data import get_testdata_file

    directory = tmp_path / "ledger"
    assert cli("init", "--database-url", postgres_url, ledger=directory).rc == 0
    assert cli("keys", "add", "site", "--role", "curator", ledger=directory).rc == 0
    original = Path(str(get_testdata_file("CT_small.dcm")))
    pixels = pydicom.dcmread(original).pixel_array.astype(np.float64)
    export = tmp_path / "copies" / "ct.png"
    export.parent.mkdir()
    scaled = (pixels - pixels.min()) / (pixels.max() - pixels.min()) * 255
    Image.fromarray(np.uint8(scaled)).save(export)
    origin = ["--license", "CC0-1.0", "--consent", "waived", "--key", "site", "--json"]

    first = cli("register", original, "--source", "a", *origin, ledger=directory)
    second = cli("register", export.parent, "--source", "b", *origin, ledger=directory)

    assert first.rc == 0 and second.rc == 0, second.stderr
    matches = second.json()["duplicates"][0]["matches"]
    assert [(m["source"], m["kind"]) for m in matches] == [("a", "near")]
    with psycopg.connect(postgres_url) as conn:
        edges = conn.execute("SELECT kind FROM dup_edges").fetchall()
        scans = conn.execute("SELECT count(*) FROM dup_scans").fetchone()
    assert edges == [("near",)] and scans == (2,)
    similar = cli("similar", export, "--json", ledger=directory).json()
    # exact copies first (the export's own registration), then the near match
    assert [r["source"] for r in similar] == ["b", "a"]


def test_projection_tamper_and_rebuild_on_postgres(
    tmp_path: Path, postgres_url: str, cli: RunCli
) -> None:
    """The projection audit and rebuild on PostgreSQL: rows read in key order, bytes as bytes."""
    import numpy as np
    from PIL import Image

    directory = tmp_path / "ledger"
    assert cli("init", "--database-url", postgres_url, ledger=directory).rc == 0
    assert cli("keys", "add", "site", "--role", "curator", ledger=directory).rc == 0
    assert cli("keys", "add", "spare", "--role", "verifier", ledger=directory).rc == 0
    assert cli("keys", "revoke", "spare", ledger=directory).rc == 0
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for n in range(3):
        small = rng.integers(0, 256, size=(12, 12)).astype(np.uint8)
        picture = Image.fromarray(small).resize((128, 128), Image.Resampling.BICUBIC)
        picture.save(folder / f"{n}.png")
    origin = ["--license", "CC0-1.0", "--consent", "waived", "--key", "site", "--json"]
    assert cli("register", folder, "--source", "a", *origin, ledger=directory).rc == 0
    assert cli("verify", ledger=directory).rc == 0
    with psycopg.connect(postgres_url) as conn:
        dump = [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()  # noqa: S608
                for t in ("keys", "images", "dup_scans", "dup_edges")]
        (idx,) = conn.execute("SELECT max(idx) FROM images").fetchone()
    _tamper(postgres_url, "UPDATE images SET license = 'proprietary' WHERE idx = %s", (idx,))
    result = cli("verify", ledger=directory)
    assert result.rc == 1
    assert result.error_line() == (f"medledger: images: entry {idx}, column license: stored "
                                   "'proprietary', the log says 'CC0-1.0'")
    _tamper(postgres_url, "DELETE FROM keys")
    assert cli("rebuild", ledger=directory).rc == 0
    with psycopg.connect(postgres_url) as conn:
        assert dump == [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()  # noqa: S608
                        for t in ("keys", "images", "dup_scans", "dup_edges")]
    assert cli("verify", ledger=directory).rc == 0
