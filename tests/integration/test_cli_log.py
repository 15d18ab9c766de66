"""The log's evidence from the command line, checked by code that shares nothing with it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from .builders import SIZE, RunCli, build
from .independent import (
    leaf_hash_of,
    mth,
    note_verifies,
    parse_checkpoint,
    parse_tlog_proof,
    parse_vkey,
    verify_consistency,
    verify_inclusion,
)


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard six-entry history; these tests only read it."""
    return build(tmp_path_factory.mktemp("log") / "ledger")


@pytest.fixture(scope="module")
def leaf_hashes(six: Path) -> list[bytes]:
    from ledger.service import Ledger

    ledger = Ledger.open(six)
    try:
        return [leaf_hash_of(e["leaf"]) for e in ledger.entries()]
    finally:
        ledger.store.engine.dispose()


def test_log_entries_shape_and_chain(six: Path, run_cli: RunCli) -> None:
    result = run_cli("log", "entries", "--json", ledger=six)
    assert result.rc == 0, result.stderr
    rows = result.json()
    assert [r["index"] for r in rows] == list(range(SIZE))
    prev = "0" * 64
    for row in rows:
        assert set(row) == {"index", "leaf_hash", "leaf"}
        assert set(row["leaf"]) == {"prev", "envelope"}
        assert set(row["leaf"]["envelope"]) == {"entry", "sig"}
        entry = row["leaf"]["envelope"]["entry"]
        assert set(entry) == {"v", "log", "kind", "time", "actor", "body"}
        assert entry["v"] == 2
        assert row["leaf_hash"] == leaf_hash_of(row["leaf"]).hex()
        assert row["leaf"]["prev"] == prev
        prev = row["leaf_hash"]
    kinds = [r["leaf"]["envelope"]["entry"]["kind"] for r in rows]
    assert kinds == ["key.added"] * 4 + ["key.revoked", "key.added"]


def test_log_entries_range(six: Path, run_cli: RunCli, leaf_hashes: list[bytes]) -> None:
    rows = run_cli("log", "entries", "--start", "2", "--end", "4", "--json", ledger=six).json()
    assert [r["index"] for r in rows] == [2, 3]
    assert [bytes.fromhex(r["leaf_hash"]) for r in rows] == leaf_hashes[2:4]
    assert rows[0]["leaf"]["prev"] == leaf_hashes[1].hex()


def test_entry_signatures_verify_independently(six: Path, run_cli: RunCli) -> None:
    """Each entry's signature is Ed25519 over a domain prefix and the canonical entry,
    by the key its actor id names (key id = SHA-256(0x01 || key)); each entry names the
    log as the key id of the log's checkpoint key."""
    import rfc8785
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    rows = run_cli("log", "entries", "--json", ledger=six).json()
    vkey = run_cli("log", "pubkey", ledger=six).stdout.strip()
    log_key = base64.b64decode(vkey.split("+", 2)[2])[1:]  # name+hash+base64(0x01 || key)
    keys: dict[str, bytes] = {}
    for row in rows:
        entry = row["leaf"]["envelope"]["entry"]
        if entry["kind"] == "key.added":
            raw = base64.b64decode(entry["body"]["public_key"])
            assert hashlib.sha256(b"\x01" + raw).hexdigest() == entry["body"]["key_id"]
            keys.setdefault(entry["body"]["key_id"], raw)
        assert entry["log"] == hashlib.sha256(b"\x01" + log_key).hexdigest()
        message = b"medledger/entry/v2\n" + rfc8785.dumps(entry)
        sig = base64.b64decode(row["leaf"]["envelope"]["sig"])
        Ed25519PublicKey.from_public_bytes(keys[entry["actor"]]).verify(sig, message)


def test_checkpoint_root_is_the_merkle_tree_hash(
    six: Path, run_cli: RunCli, leaf_hashes: list[bytes]
) -> None:
    note = run_cli("checkpoint", ledger=six).stdout
    vkey = run_cli("log", "pubkey", ledger=six).stdout.strip()
    assert note_verifies(note, vkey)
    body = parse_checkpoint(note)
    assert (body.size, body.root) == (SIZE, mth(leaf_hashes))
    shown = run_cli("checkpoint", "--json", ledger=six).json()
    assert shown == {"origin": body.origin, "size": SIZE, "root": mth(leaf_hashes).hex(),
                     "note": note}
    assert run_cli("log", "pubkey", "--json", ledger=six).json() == {
        "origin": body.origin, "vkey": vkey}
    assert vkey.startswith(body.origin + "+")


def _changed_lines(note: str) -> list[str]:
    """The note with each line changed in turn (text lines and the signature line)."""
    lines = note.split("\n")
    variants = []
    for i, line in enumerate(lines):
        if not line:
            continue
        if i == 1:
            changed = str(int(line) + 1)
        elif line.startswith("\u2014 "):
            sig = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
            sig[-1] ^= 1
            changed = line.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(sig)).decode()
        elif i == 2:
            root = bytearray(base64.b64decode(line))
            root[0] ^= 1
            changed = base64.b64encode(bytes(root)).decode()
        else:
            changed = line + "x"
        variants.append("\n".join([*lines[:i], changed, *lines[i + 1 :]]))
    return variants


def test_checkpoint_signature_checks_independently_and_any_line_change_fails(
    six: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    note = run_cli("checkpoint", ledger=six).stdout
    vkey = run_cli("log", "pubkey", ledger=six).stdout.strip()
    assert note_verifies(note, vkey)
    path = tmp_path / "checkpoint.txt"
    path.write_text(note)
    ok = run_cli("checkpoint", "verify", path, "--pubkey", vkey, "--json")
    assert ok.rc == 0, ok.stderr
    assert ok.json()["ok"] is True
    assert ok.json()["size"] == SIZE
    variants = _changed_lines(note)
    assert len(variants) == 4  # origin, size, root, signature
    for variant in variants:
        assert not note_verifies(variant, vkey), variant
        path.write_text(variant)
        refused = run_cli("checkpoint", "verify", path, "--pubkey", vkey)
        assert refused.rc == 1, (variant, refused.stderr)
        assert str(path) in refused.error_line()


def test_checkpoint_verify_takes_the_key_from_a_file(
    six: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "cp").write_text(run_cli("checkpoint", ledger=six).stdout)
    (tmp_path / "log.vkey").write_text(run_cli("log", "pubkey", ledger=six).stdout)
    result = run_cli("checkpoint", "verify", tmp_path / "cp", "--pubkey", tmp_path / "log.vkey")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize("index", range(SIZE))
def test_inclusion_proofs_verify_independently(
    six: Path, cli: RunCli, leaf_hashes: list[bytes], index: int
) -> None:
    for size in range(index + 1, SIZE + 1):
        proof = cli("proof", "inclusion", str(index), "--size", str(size), "--json",
                    ledger=six).json()
        assert proof["index"] == index and proof["tree_size"] == size
        assert proof["leaf_hash"] == leaf_hashes[index].hex()
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        root = mth(leaf_hashes[:size])
        assert verify_inclusion(index=index, size=size, leaf=leaf_hashes[index], proof=hashes,
                                root=root)
        if hashes:  # and the independent verifier is not a yes-man
            hashes[0] = bytes(32)
            assert not verify_inclusion(index=index, size=size, leaf=leaf_hashes[index],
                                        proof=hashes, root=root)


def test_inclusion_proof_default_size_is_the_log(six: Path, run_cli: RunCli) -> None:
    proof = run_cli("proof", "inclusion", "4", "--json", ledger=six).json()
    assert proof["tree_size"] == SIZE
    text = run_cli("proof", "inclusion", "4", ledger=six)
    assert text.rc == 0
    assert text.stdout.split("\n")[1:-1] == proof["hashes"]


def test_consistency_proofs_verify_independently(
    six: Path, cli: RunCli, leaf_hashes: list[bytes]
) -> None:
    for new in range(1, SIZE + 1):
        for old in range(1, new + 1):
            proof = cli("proof", "consistency", str(old), str(new), "--json", ledger=six).json()
            assert (proof["old_size"], proof["new_size"]) == (old, new)
            hashes = [bytes.fromhex(h) for h in proof["hashes"]]
            old_root, new_root = mth(leaf_hashes[:old]), mth(leaf_hashes[:new])
            assert verify_consistency(old_size=old, new_size=new, old_root=old_root,
                                      new_root=new_root, proof=hashes), (old, new)
            if hashes:
                hashes[-1] = bytes(32)
                assert not verify_consistency(old_size=old, new_size=new, old_root=old_root,
                                              new_root=new_root, proof=hashes)


def test_consistency_proof_from_size_zero_is_empty(six: Path, run_cli: RunCli) -> None:
    """Decided as C2SP tlog-witness does: the empty tree is a prefix of every tree, and
    the proof has no hashes."""
    proof = run_cli("proof", "consistency", "0", str(SIZE), "--json", ledger=six)
    assert proof.rc == 0, proof.stderr
    assert proof.json() == {"hashes": [], "old_size": 0, "new_size": SIZE}
    assert run_cli("proof", "consistency", "0", "0", "--json", ledger=six).json()["hashes"] == []


def test_consistency_proof_default_new_size_is_the_log(six: Path, run_cli: RunCli) -> None:
    proof = run_cli("proof", "consistency", "3", "--json", ledger=six).json()
    assert (proof["old_size"], proof["new_size"]) == (3, SIZE)


def test_tlog_proof_verifies_with_no_ledger(
    six: Path, cli: RunCli, leaf_hashes: list[bytes]
) -> None:
    vkey = cli("log", "pubkey", ledger=six).stdout.strip()
    for index in range(SIZE):
        result = cli("proof", "inclusion", str(index), "--format", "tlog-proof", ledger=six)
        assert result.rc == 0, result.stderr
        proof = parse_tlog_proof(result.stdout)
        assert proof.index == index
        assert note_verifies(proof.note, vkey)
        checkpoint = parse_checkpoint(proof.note)
        assert checkpoint.size == SIZE
        assert verify_inclusion(index=index, size=checkpoint.size, leaf=leaf_hashes[index],
                                proof=proof.hashes, root=checkpoint.root)
        assert len(result.stdout.encode()) < 2048


def test_tlog_proof_refuses_a_size(six: Path, cli: RunCli) -> None:
    result = cli("proof", "inclusion", "1", "--format", "tlog-proof", "--size", "3", ledger=six)
    assert result.rc == 2
    assert "--size" in result.error_line()


def test_vkey_key_hash_is_the_signed_note_one(six: Path, run_cli: RunCli) -> None:
    vkey = run_cli("log", "pubkey", ledger=six).stdout.strip()
    parsed = parse_vkey(vkey)  # asserts the key hash rule itself
    assert len(parsed.public) == 32
