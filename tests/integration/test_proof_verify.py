"""``proof verify``: the log's own proofs, a tlog-proof written by hand from the C2SP spec,
and every single-bit change refused. No ledger is needed to check a proof."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import InputError, VerificationError
from ledger.service.proofs import verify_proof_files

from .builders import SIZE, RunCli, build
from .independent import leaf_hash_of, mth


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Proofs, entries, the checkpoint and the key of the six-entry history; then no ledger."""
    from ledger.service import Ledger

    root = tmp_path_factory.mktemp("proofs")
    directory = build(root / "ledger")
    ledger = Ledger.open(directory)
    files: dict[str, Any] = {"root": root}
    (root / "log.vkey").write_text(ledger.verifier.vkey + "\n")
    (root / "checkpoint.txt").write_text(ledger.checkpoint())
    for index in range(SIZE):
        row = ledger.entries(start=index, end=index + 1)
        (root / f"entry{index}.json").write_text(json.dumps(row))
        (root / f"leaf{index}.bin").write_bytes(_leaf_bytes(ledger, index))
        (root / f"proof{index}.tlog").write_text(ledger.tlog_proof(index))
        (root / f"inclusion{index}.json").write_text(json.dumps(
            ledger.inclusion_proof(index).to_json()))  # fmt: skip
    other = Ledger.init(root / "other")
    (root / "other.vkey").write_text(other.verifier.vkey)
    for opened in (ledger, other):
        opened.store.engine.dispose()
    shutil.rmtree(directory)  # an auditor holds files, not a ledger
    return files


def _leaf_bytes(ledger: Any, index: int) -> bytes:
    from ledger.store import reading

    with reading(ledger.store.engine) as conn:
        (_, leaf, *_), = ledger.store.iter_leaves(conn, start=index, end=index + 1)
    return bytes(leaf)


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), straight from the definition."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, hashes[:k]), mth(hashes[k:])]
    return [*_path(m - k, hashes[k:]), mth(hashes[:k])]


def check(files: dict[str, Any], **kwargs: Any) -> Any:
    root = files["root"]
    return verify_proof_files(pubkeys=[str(root / "log.vkey")], **kwargs)


# --- proofs that hold ------------------------------------------------------------------


@pytest.mark.parametrize("index", range(SIZE))
def test_own_tlog_proof_with_the_entry(evidence: dict[str, Any], index: int) -> None:
    root = evidence["root"]
    result = check(evidence, tlog_proof=root / f"proof{index}.tlog",
                   entry_json=root / f"entry{index}.json")  # fmt: skip
    entry = json.loads((root / f"entry{index}.json").read_text())[0]
    assert result.index == index and result.tree_size == SIZE
    assert result.leaf_hash == leaf_hash_of(entry["leaf"]) and result.leaf_checked


def test_own_tlog_proof_with_the_leaf_bytes(evidence: dict[str, Any]) -> None:
    root = evidence["root"]
    result = check(evidence, tlog_proof=root / "proof4.tlog", leaf=root / "leaf4.bin")
    assert result.leaf_hash.hex() == json.loads((root / "entry4.json").read_text())[0][
        "leaf_hash"]  # fmt: skip


def test_own_inclusion_json_and_checkpoint(evidence: dict[str, Any], cli: RunCli) -> None:
    root = evidence["root"]
    shown = cli("proof", "verify", "--inclusion", root / "inclusion2.json",
                "--checkpoint", root / "checkpoint.txt", "--pubkey", root / "log.vkey", "--json")
    assert shown.rc == 0, shown.stderr
    body = shown.json()
    assert body["ok"] is True and body["index"] == 2 and body["tree_size"] == SIZE
    assert body["leaf"] == "from the proof"
    hashed = cli("proof", "verify", "--inclusion", root / "inclusion2.json", "--checkpoint",
                 root / "checkpoint.txt", "--pubkey", root / "log.vkey", "--entry-json",
                 root / "entry2.json", "--json")  # fmt: skip
    assert hashed.rc == 0, hashed.stderr
    assert hashed.json()["leaf"] == "hashed"


def test_tlog_proof_written_by_hand(evidence: dict[str, Any], cli: RunCli) -> None:
    """From c2sp.org/tlog-proof: header, an ``extra`` line (opaque, unauthenticated), the
    index, the audit path (leaf's sibling first), a blank line, the checkpoint note."""
    root = evidence["root"]
    leaves = [json.loads((root / f"entry{i}.json").read_text())[0]["leaf"] for i in range(SIZE)]
    hashes = [leaf_hash_of(leaf) for leaf in leaves]
    note = (root / "checkpoint.txt").read_text()
    assert note.split("\n")[2] == base64.b64encode(mth(hashes)).decode()  # the same tree
    lines = ["c2sp.org/tlog-proof@v1", "extra " + base64.b64encode(b"written by hand").decode(),
             "index 3", *(base64.b64encode(h).decode() for h in _path(3, hashes))]  # fmt: skip
    handmade = root / "handmade.tlog"
    handmade.write_text("\n".join(lines) + "\n\n" + note)
    result = cli("proof", "verify", "--tlog-proof", handmade, "--pubkey", root / "log.vkey",
                 "--entry-json", root / "entry3.json")  # fmt: skip
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("ok: entry 3 ")


# --- every single-bit change is refused --------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tlog_variants(text: str) -> dict[str, list[str]]:
    """Well-formed tlog-proofs, each one bit away from ``text`` in one of its parts."""
    head, _, note = text.partition("\n\n")
    lines = head.split("\n")
    out: dict[str, list[str]] = {"proof hash": [], "index": [], "root": [], "signature": []}
    for at in range(2, len(lines)):
        raw = base64.b64decode(lines[at])
        for bit in range(256):
            changed = [*lines[:at], _b64(_flip(raw, bit)), *lines[at + 1 :]]
            out["proof hash"].append("\n".join(changed) + "\n\n" + note)
    index = int(lines[1].split()[1])
    for bit in range(64):
        changed = [lines[0], f"index {index ^ (1 << bit)}", *lines[2:]]
        out["index"].append("\n".join(changed) + "\n\n" + note)
    body = note.split("\n")
    root_raw = base64.b64decode(body[2])
    for bit in range(256):
        out["root"].append(head + "\n\n" + "\n".join([*body[:2], _b64(_flip(root_raw, bit)),
                                                      *body[3:]]))  # fmt: skip
    sig_at = next(i for i, line in enumerate(body) if line.startswith("\u2014 "))
    dash, name, sig = body[sig_at].split(" ")
    sig_raw = base64.b64decode(sig)
    for bit in range(len(sig_raw) * 8):
        line = f"{dash} {name} {_b64(_flip(sig_raw, bit))}"
        out["signature"].append(head + "\n\n" + "\n".join([*body[:sig_at], line,
                                                           *body[sig_at + 1 :]]))  # fmt: skip
    return out


def test_every_bit_flip_of_a_tlog_proof_is_refused(
    evidence: dict[str, Any], tmp_path: Path
) -> None:
    root = evidence["root"]
    variants = _tlog_variants((root / "proof2.tlog").read_text())
    assert len(variants["proof hash"]) == 256 * 3 and len(variants["signature"]) == 68 * 8
    target = tmp_path / "flipped.tlog"
    for texts in variants.values():  # every part, every bit: exit 1, never accepted
        for text in texts:
            target.write_text(text)
            with pytest.raises(VerificationError):
                check(evidence, tlog_proof=target, entry_json=root / "entry2.json")


def test_every_bit_flip_of_the_leaf_is_refused(evidence: dict[str, Any], tmp_path: Path) -> None:
    root = evidence["root"]
    leaf = (root / "leaf2.bin").read_bytes()
    target = tmp_path / "leaf.bin"
    for bit in range(len(leaf) * 8):
        target.write_bytes(_flip(leaf, bit))
        with pytest.raises(VerificationError):
            check(evidence, tlog_proof=root / "proof2.tlog", leaf=target)


INCLUSION_FLIPS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "hashes[0]": lambda p, bit: p["hashes"].__setitem__(
        0, _flip(bytes.fromhex(p["hashes"][0]), bit % 256).hex()),
    "leaf_hash": lambda p, bit: p.update(
        leaf_hash=_flip(bytes.fromhex(p["leaf_hash"]), bit % 256).hex()),
    "index": lambda p, bit: p.update(index=p["index"] ^ (1 << (bit % 63))),
    "tree_size": lambda p, bit: p.update(tree_size=p["tree_size"] ^ (1 << (bit % 63))),
}


@pytest.mark.parametrize("field", list(INCLUSION_FLIPS))
def test_bit_flips_of_an_inclusion_proof_are_refused(
    evidence: dict[str, Any], tmp_path: Path, field: str
) -> None:
    root = evidence["root"]
    original = json.loads((root / "inclusion2.json").read_text())
    target = tmp_path / "flipped.json"
    for bit in range(256 if "hash" in field else 63):
        proof = json.loads(json.dumps(original))
        INCLUSION_FLIPS[field](proof, bit)
        target.write_text(json.dumps(proof))
        with pytest.raises(VerificationError):
            check(evidence, inclusion=target, checkpoint=root / "checkpoint.txt")


# --- the command line: exit codes and lines ---------------------------------------------------


def test_a_refused_proof_exits_1_with_the_reason(evidence: dict[str, Any], cli: RunCli) -> None:
    root = evidence["root"]
    result = cli("proof", "verify", "--tlog-proof", root / "proof2.tlog", "--pubkey",
                 root / "log.vkey", "--entry-json", root / "entry3.json", "--json")  # fmt: skip
    assert result.rc == 1
    assert "is entry 3, the proof is for entry 2" in result.error_line()
    assert result.json() == {"ok": False, "reason": result.json()["reason"]}


def test_another_logs_key_exits_1(evidence: dict[str, Any], cli: RunCli) -> None:
    root = evidence["root"]
    result = cli("proof", "verify", "--tlog-proof", root / "proof2.tlog", "--pubkey",
                 root / "other.vkey", "--entry-json", root / "entry2.json")  # fmt: skip
    assert result.rc == 1
    assert "no verifiable signatures" in result.error_line()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--tlog-proof", "proof2.tlog"), "does not carry the leaf"),
        (("--inclusion", "inclusion2.json"), "needs --checkpoint"),
        (("--tlog-proof", "proof2.tlog", "--inclusion", "inclusion2.json"), "one of"),
        (("--tlog-proof", "entry2.json", "--leaf", "leaf2.bin"), "malformed tlog-proof"),
        (("--tlog-proof", "missing.tlog", "--leaf", "leaf2.bin"), "No such file"),
        (("--inclusion", "proof2.tlog", "--checkpoint", "checkpoint.txt"), "malformed JSON"),
    ],
)
def test_bad_input_exits_2(
    evidence: dict[str, Any], cli: RunCli, args: tuple[str, ...], words: str
) -> None:
    root = evidence["root"]
    argv = [str(root / a) if a.endswith((".tlog", ".json", ".bin", ".txt")) else a for a in args]
    result = cli("proof", "verify", *argv, "--pubkey", root / "log.vkey")
    assert result.rc == 2
    assert words in result.error_line()


def test_inclusion_json_with_a_foreign_leaf_exits_1(evidence: dict[str, Any]) -> None:
    root = evidence["root"]
    with pytest.raises(VerificationError, match="proves leaf hash"):
        check(evidence, inclusion=root / "inclusion2.json", checkpoint=root / "checkpoint.txt",
              leaf=root / "leaf3.bin")  # fmt: skip
    with pytest.raises(InputError):
        check(evidence, inclusion=root / "inclusion2.json", checkpoint=root / "checkpoint.txt",
              leaf=root / "leaf3.bin", entry_json=root / "entry3.json")  # fmt: skip
