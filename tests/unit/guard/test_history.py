"""DIR/checkpoints and DIR/state.json: append-only records that survive torn writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import InputError
from ledger.guard.history import History, Recovery, Signed
from ledger.guard.state import Trusted, read_snapshot, write_snapshot
from ledger.model.roles import Role


def signed(size: int) -> Signed:
    return Signed(size, bytes([size % 256]) * 32, f"origin\n{size}\nroot\n\n— sig\n")


def test_last_signed_is_the_newest_record(tmp_path: Path) -> None:
    history = History(tmp_path)
    assert history.last_signed() is None
    history.append([signed(1), signed(2)])
    history.append([signed(2)])  # another writer got there first: not recorded twice
    history.append([Recovery(2, 5, b"\x05" * 32, 2, b"\x02" * 32), signed(3)],
                   newer_only=False)
    assert history.last_signed() == signed(3)
    assert [type(r).__name__ for r in history.records()] == [
        "Signed", "Signed", "Recovery", "Signed"]


def test_last_signed_skips_a_trailing_recovery_beyond_the_read_tail(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.append([signed(1)])
    big = Recovery(1, 9, b"\x09" * 32, 1, b"\x01" * 32)
    history.append([big] * 400, newer_only=False)  # more than the 64 KiB read from the end
    assert history.last_signed() == signed(1)


def test_a_torn_last_line_is_cut_before_the_next_record(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.append([signed(1)])
    with open(history.path, "a") as handle:
        handle.write('{"size": 2, "root": "ab')
    assert history.last_signed() == signed(1)  # the torn line is not a record
    history.append([signed(3)])
    lines = history.path.read_text().splitlines()
    assert [json.loads(line)["size"] for line in lines] == [1, 3]


def test_a_malformed_record_is_named(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.path.write_text('{"size": "x"}\n')
    with pytest.raises(InputError, match="checkpoints: malformed record"):
        history.records()


def test_snapshot_round_trip(tmp_path: Path) -> None:
    keys = KeyState([KeyRecord("ab" * 32, "admin", Role.ADMIN, b"\x01" * 32, 0, None),
                     KeyRecord("cd" * 32, "bob", Role.CURATOR, b"\x02" * 32, 1, 4)])
    state = Trusted(5, b"\x07" * 32, keys, {"require_deidentified": True})
    write_snapshot(tmp_path, state)
    read = read_snapshot(tmp_path)
    assert read is not None
    assert (read.size, read.root, read.policy) == (5, b"\x07" * 32, state.policy)
    assert read.keys.by_id == keys.by_id


@pytest.mark.parametrize("text", ["", '{"format": "medledger-state/v1", "size": 1}', "{"])
def test_an_unreadable_snapshot_only_costs_a_replay(tmp_path: Path, text: str) -> None:
    (tmp_path / "state.json").write_text(text)  # e.g. a crash while it was replaced
    assert read_snapshot(tmp_path) is None
