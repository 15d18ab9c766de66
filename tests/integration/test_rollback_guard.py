"""The log never signs over a rollback (issue 17, part 1), on a real SQLite file.

An attacker with the database (triggers dropped) restores an older copy, truncates,
un-revokes a key or rewrites a stolen key's entry and rebuilds the tree consistently;
the next append or checkpoint must refuse: exit 1, one line naming both trees, nothing
appended, nothing signed, the directory's history unchanged. ``recover`` is the one
way on, and it leaves a signed record that ``verify`` reports.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from ledger.crypto.keys import read_private_key
from ledger.crypto.signing import encode_sig, sign_entry
from ledger.errors import PolicyError, VerificationError
from ledger.model.canonical import canonical_json

from .builders import SIZE, RunCli, attacker, build, copy_database, opened
from .registration.data import make_pngs
from .registration.support import SUBMITTER, make_ledger, register_args
from .rollback import insert_leaf, leaf_of, rewrite_leaf, truncate

GUARDED = ("checkpoint", "checkpoints", "state.json")


def guarded(directory: Path) -> dict[str, bytes]:
    """What the ledger directory remembers of the signed log."""
    return {n: (directory / n).read_bytes() for n in GUARDED if (directory / n).exists()}


def counts(directory: Path) -> tuple[int, int]:
    """(entries, signed checkpoints) in the database."""
    uri = f"file:{directory / 'ledger.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        (leaves,) = conn.execute("SELECT count(*) FROM log_leaves").fetchone()
        (notes,) = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    return leaves, notes


def put_back(copy: Path, directory: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{directory / 'ledger.db'}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, directory / "ledger.db")


def assert_refused(result: RunCli, *sizes: int) -> str:
    assert result.rc == 1, (result.stdout, result.stderr)
    line: str = result.error_line()
    assert "does not extend" in line or "smaller" in line, line
    for size in sizes:
        assert f"size {size}" in line, line
    assert "medledger verify --checkpoint" in line, line
    return line


# --- rollback and truncation ------------------------------------------------------------


def test_restore_then_register_is_refused(tmp_path: Path, cli: RunCli) -> None:
    directory = make_ledger(tmp_path / "ledger")  # genesis + two keys: size 3
    copy_database(directory, tmp_path / "old.db")
    first = cli(*register_args(*make_pngs(tmp_path / "a", 2)), ledger=directory)
    assert first.rc == 0, first.stderr
    put_back(tmp_path / "old.db", directory)
    before, remembered = counts(directory), guarded(directory)

    again = cli(*register_args(*make_pngs(tmp_path / "b", 2, seed=7)), ledger=directory)
    assert_refused(again, 3, 5)
    assert counts(directory) == before  # nothing appended, nothing signed
    assert guarded(directory) == remembered
    for command in (("keys", "add", "x", "--role", "verifier"), ("checkpoint",)):
        assert_refused(cli(*command, ledger=directory), 3, 5)
    assert counts(directory) == before
    assert guarded(directory) == remembered


def test_truncate_then_checkpoint_is_refused(tmp_path: Path, cli: RunCli) -> None:
    directory = build(tmp_path / "ledger")
    remembered = guarded(directory)
    with attacker(directory) as conn:
        truncate(conn, keep=4)
    assert cli("verify", ledger=directory).rc == 1
    before = counts(directory)
    assert_refused(cli("checkpoint", ledger=directory), 4, SIZE)
    assert_refused(cli("keys", "add", "x", "--role", "verifier", ledger=directory), 4, SIZE)
    assert counts(directory) == before
    assert guarded(directory) == remembered
    assert cli("verify", ledger=directory).rc == 1  # and it stays found


def test_un_revoke_then_register_is_refused(tmp_path: Path, cli: RunCli) -> None:
    """bob (curator) is revoked at index 4; erasing that leaf must not let him sign again."""
    directory = build(tmp_path / "ledger", upto=5)
    with attacker(directory) as conn:
        truncate(conn, keep=4)  # the key.revoked leaf, and its mark in the keys table
    [retired] = (directory / "keys").glob("bob.*.revoked")
    retired.rename(directory / "keys" / "bob.key")  # the attacker kept bob's key
    result = cli(*register_args(*make_pngs(tmp_path / "a", 1), key="bob"), ledger=directory)
    assert_refused(result, 4, 5)
    assert counts(directory)[0] == 4


def test_rewrite_with_a_stolen_submitter_key_then_checkpoint_is_refused(
    tmp_path: Path, cli: RunCli
) -> None:
    directory = make_ledger(tmp_path / "ledger")
    assert cli(*register_args(*make_pngs(tmp_path / "a", 1)), ledger=directory).rc == 0
    size, _ = counts(directory)
    remembered = guarded(directory)
    stolen = read_private_key(directory / "keys" / f"{SUBMITTER}.key", passphrase=None)
    with attacker(directory) as conn:
        leaf = leaf_of(conn, size - 1)
        entry = leaf["envelope"]["entry"]
        assert entry["actor"] == stolen.public_key.key_id
        entry["body"]["license"] = "CC0-1.0"  # a forged origin, validly signed
        leaf["envelope"]["sig"] = encode_sig(sign_entry(stolen, canonical_json(entry)))
        rewrite_leaf(conn, size - 1, leaf)
    line = assert_refused(cli("checkpoint", ledger=directory), size)
    assert "roots differ" in line or "root" in line
    assert guarded(directory) == remembered
    assert counts(directory)[1] == len(_checkpoint_rows(directory))


def _checkpoint_rows(directory: Path) -> list[int]:
    uri = f"file:{directory / 'ledger.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return [s for (s,) in conn.execute("SELECT size FROM checkpoints")]


def test_a_crash_before_the_history_write_does_not_refuse(ledger_dir: Path) -> None:
    """The database committed a checkpoint the history never recorded: accepted, recorded."""
    with opened(ledger_dir) as ledger:
        history = (ledger_dir / "checkpoints").read_bytes()
        ledger.add_key("a", "verifier")
        (ledger_dir / "checkpoints").write_bytes(history)  # as if the write never happened
        (ledger_dir / "state.json").unlink()
    with opened(ledger_dir) as ledger:  # a new process
        ledger.add_key("b", "verifier")
        assert ledger.size() == 3
        assert ledger.verify().size == 3
    lines = (ledger_dir / "checkpoints").read_text().splitlines()
    assert [json.loads(line)["size"] for line in lines] == [1, 2, 3]


# --- key rules from the signed log -----------------------------------------------------


def test_revoked_key_un_revoked_in_the_table_is_still_refused(
    tmp_path: Path, cli: RunCli
) -> None:
    directory = build(tmp_path / "ledger")
    with attacker(directory) as conn:
        conn.execute("UPDATE keys SET revoked_idx = NULL WHERE name = 'bob'")
    [retired] = (directory / "keys").glob("bob.*.revoked")
    retired.rename(directory / "keys" / "bob.key")
    result = cli(*register_args(*make_pngs(tmp_path / "a", 1), key="bob"), ledger=directory)
    assert result.rc == 2
    assert "key bob was revoked at index 4" in result.error_line()
    assert counts(directory)[0] == SIZE


def test_last_admin_cannot_be_revoked_through_the_library(ledger_dir: Path) -> None:
    with opened(ledger_dir) as ledger:
        with pytest.raises(PolicyError, match="last active admin"):
            ledger.revoke_key("admin")
        admin = ledger.signing_key("admin")
        body = {"key_id": admin.public_key.key_id, "reason": ""}
        with pytest.raises(PolicyError, match="last active admin"):  # not only revoke_key
            ledger.submit([ledger.sign("key.revoked", body, key=admin)])
        assert ledger.size() == 1
        ledger.add_key("second", "admin")
        ledger.revoke_key("admin")  # another admin remains: allowed
        assert ledger.verify().size == 3


def test_a_bogus_key_added_reusing_a_key_id_is_blamed_at_its_index(
    tmp_path: Path, run_cli: RunCli
) -> None:
    from ledger.crypto.keys import SigningKey

    directory = build(tmp_path / "ledger")
    admin = read_private_key(directory / "keys" / "admin.key", passphrase=None)
    other = SigningKey.generate().public_key
    body = {"name": "evil", "role": "admin", "public_key": other.to_b64(),
            "key_id": admin.public_key.key_id}
    with opened(directory) as ledger:
        envelope = ledger.sign("key.added", body, key=admin)
    with attacker(directory) as conn:
        insert_leaf(conn, SIZE, envelope)
    result = run_cli("verify", "--json", ledger=directory)
    assert result.rc == 1
    assert result.json()["index"] == SIZE, result.stdout


# --- policy from the signed log ---------------------------------------------------------


def identifiable(folder: Path) -> list[Path]:
    from .registration.data import copy_into, deid_files

    return copy_into(folder, deid_files()[:1])


def test_policy_changed_in_the_database_is_still_enforced(tmp_path: Path, cli: RunCli) -> None:
    directory = make_ledger(tmp_path / "ledger", require_deidentified=True)
    with opened(directory) as ledger:
        kinds = [e["leaf"]["envelope"]["entry"]["kind"] for e in ledger.entries()]
        assert kinds[1] == "policy.changed"  # signed right after the genesis
    with attacker(directory) as conn:
        shown = conn.execute("SELECT value, idx FROM policies WHERE setting = "
                             "'require_deidentified'").fetchall()
        assert shown == [("true", 1)]  # the projection, for display
        conn.execute("UPDATE policies SET value = 'false'")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES "
                     "('require_deidentified', 'no')")
    result = cli(*register_args(*identifiable(tmp_path / "phi")), ledger=directory)
    assert result.rc == 2
    assert result.json()["registered"] == 0
    assert counts(directory)[0] == 4


def test_an_older_ledgers_meta_flag_is_honoured_until_a_policy_entry(
    tmp_path: Path, cli: RunCli
) -> None:
    directory = make_ledger(tmp_path / "ledger")
    with attacker(directory) as conn:  # as a ledger made before policies were signed
        conn.execute("INSERT INTO meta (key, value) VALUES ('require_deidentified', 'yes')")
    with opened(directory) as ledger:
        assert ledger.require_deidentified()
        ledger.set_policy("require_deidentified", False, key=ledger.signing_key("admin"))
        assert not ledger.require_deidentified()
    assert cli(*register_args(*identifiable(tmp_path / "phi")), ledger=directory).rc == 0


def test_thresholds_are_signed_and_read_from_the_log(tmp_path: Path, cli: RunCli) -> None:
    directory = make_ledger(tmp_path / "ledger")
    changed = cli("thresholds", "--min-correlation", "0.9", "--json", ledger=directory)
    assert changed.rc == 0, changed.stderr
    with opened(directory) as ledger:
        last = ledger.entries()[-1]["leaf"]["envelope"]["entry"]
        assert (last["kind"], last["body"]["setting"]) == ("policy.changed", "dup_thresholds")
        assert last["body"]["value"]["min_correlation"] == "0.9"  # decimals, never floats
    with attacker(directory) as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dup_thresholds', "
                     """'{"min_correlation": 0.1, "max_worst_block": 9, "min_overlap": 0}')""")
    shown = cli("thresholds", "--json", ledger=directory)
    assert shown.json()["min_correlation"] == 0.9
    refused = cli("thresholds", "--min-overlap", "0.5", "--key", SUBMITTER, ledger=directory)
    assert refused.rc == 2
    assert "policy.changed needs one of admin" in refused.error_line()


# --- remember and recover ---------------------------------------------------------------


def test_remember_of_a_forked_note_is_refused(tmp_path: Path) -> None:
    one = build(tmp_path / "one", upto=2)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    config = (two / "config.json").read_text().replace(str(one), str(two))
    (two / "config.json").write_text(config)
    with opened(one) as ledger:
        ledger.add_key("x", "verifier")
    with opened(two) as ledger:  # the same log key, another entry at index 2
        ledger.add_key("y", "verifier")
        forked = ledger.checkpoint()
    remembered = guarded(one)
    with opened(one) as ledger, pytest.raises(VerificationError, match="fork"):
        ledger.remember(forked)
    assert guarded(one) == remembered


def test_recover_after_a_genuine_restore(tmp_path: Path, cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=3)
    copy_database(directory, tmp_path / "backup.db")
    with opened(directory) as ledger:
        grow_to = ledger.size() + 2
        ledger.add_key("lost1", "verifier")
        ledger.add_key("lost2", "verifier")
        assert ledger.size() == grow_to
    put_back(tmp_path / "backup.db", directory)
    assert cli("recover", "--key", "alice", "--reason", "disk failed", ledger=directory).rc == 2
    assert cli("verify", ledger=directory).rc == 1

    recovered = cli("recover", "--key", "admin", "--reason", "disk failed; restored backup",
                    ledger=directory)
    assert recovered.rc == 0, recovered.stderr
    assert "recovered at index 3: entries 3..4 of the checkpoint of size 5 were lost" in (
        recovered.stdout)
    verified = cli("verify", "--json", ledger=directory)
    assert verified.rc == 0, verified.stderr
    assert verified.json()["recoveries"] == [
        "recovered at index 3: entries 3..4 of the checkpoint of size 5 were lost"]
    assert cli("keys", "add", "after", "--role", "verifier", ledger=directory).rc == 0
    again = cli("recover", "--key", "admin", "--reason", "twice", ledger=directory)
    assert again.rc == 2 and "nothing to recover" in again.error_line()

    # A later rollback, with no recovery recorded, is still found and refused.
    with attacker(directory) as conn:
        truncate(conn, keep=4)
    assert cli("verify", ledger=directory).rc == 1
    assert_refused(cli("checkpoint", ledger=directory), 4)


def test_a_recovery_the_log_does_not_hold_is_not_accepted(tmp_path: Path, cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=3)
    copy_database(directory, tmp_path / "backup.db")
    extend_by_one = cli("keys", "add", "z", "--role", "verifier", ledger=directory)
    assert extend_by_one.rc == 0
    assert cli("recover", "--key", "admin", "--reason", "test", ledger=directory).rc == 2
    put_back(tmp_path / "backup.db", directory)
    assert cli("recover", "--key", "admin", "--reason", "restored", ledger=directory).rc == 0
    with attacker(directory) as conn:  # erase the log.recovered entry itself
        truncate(conn, keep=3)
    assert cli("verify", ledger=directory).rc == 1


def test_the_history_survives_a_torn_last_record(ledger_dir: Path) -> None:
    with opened(ledger_dir) as ledger:
        with open(ledger_dir / "checkpoints", "a") as handle:
            handle.write('{"size": 99, "ro')  # a crash in the middle of a write
        ledger.add_key("a", "verifier")
        assert ledger.verify().size == 2
    text = (ledger_dir / "checkpoints").read_text()
    assert '"size": 99' not in text and text.endswith("\n")



def test_a_ledger_made_before_the_guard_builds_its_state_once(tmp_path: Path) -> None:
    """No history or snapshot yet: the older DIR/checkpoint seeds the history, and the key
    state comes from every leaf (bob stays revoked), then is kept in DIR/state.json."""
    directory = build(tmp_path / "ledger")
    for name in ("checkpoints", "state.json"):
        (directory / name).unlink()
    with opened(directory) as ledger:
        ledger.add_key("x", "verifier")
        state = json.loads((directory / "state.json").read_text())
        assert state["size"] == SIZE + 1
        bob = [k for k in state["keys"] if k["name"] == "bob"]
        assert bob[0]["revoked_idx"] == 4
        assert ledger.verify().size == SIZE + 1


def test_before_the_guard_a_kind_column_edit_does_not_hide_a_revocation(
    tmp_path: Path, cli: RunCli
) -> None:
    directory = build(tmp_path / "ledger")
    for name in ("checkpoints", "state.json"):
        (directory / name).unlink()
    with attacker(directory) as conn:  # the replay must parse the leaf, not trust the column
        conn.execute("UPDATE log_leaves SET kind = 'key.added' WHERE idx = 4")
        conn.execute("UPDATE keys SET revoked_idx = NULL WHERE name = 'bob'")
    result = cli("keys", "add", "x", "--role", "verifier", ledger=directory)
    assert result.rc == 1
    assert "stored kind/actor columns differ" in result.error_line()
    assert counts(directory)[0] == SIZE


def test_an_edited_last_leaf_hash_is_not_chained_to(tmp_path: Path, cli: RunCli) -> None:
    """The next entry's prev comes from the stored tail; it must be the tree's leaf."""
    directory = build(tmp_path / "ledger")
    with attacker(directory) as conn:
        conn.execute("UPDATE log_leaves SET leaf_hash = ? WHERE idx = ?", (b"\x00" * 32, SIZE - 1))
    result = cli("keys", "add", "x", "--role", "verifier", ledger=directory)
    assert result.rc == 1
    assert f"entry {SIZE - 1}: the stored hash of the last leaf" in result.error_line()
    assert counts(directory)[0] == SIZE


def test_a_log_key_swapped_in_the_database_signs_nothing(tmp_path: Path, cli: RunCli) -> None:
    """meta's origin and verifier key are editable; the key the directory holds decides."""
    from ledger.crypto.keys import SigningKey
    from ledger.crypto.note import NoteSigner

    directory = build(tmp_path / "ledger", upto=2)
    with opened(directory) as ledger:
        origin = ledger.origin
    other = NoteSigner(origin, SigningKey.generate()).verifier_key
    with attacker(directory) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'log_vkey'", (other,))
    result = cli("keys", "add", "x", "--role", "verifier", ledger=directory)
    assert result.rc == 1
    assert "refusing to sign" in result.error_line()
    assert counts(directory)[0] == 2
