"""``verify`` honours every option it takes, with a bundle and with a ledger, or refuses it.

Two ledgers share their first three entries and their log key, then fork: a
checkpoint of one is no prefix of the other's tree, though it is signed by the
same key, so only the consistency proof tells them apart.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .builders import SIZE, RunCli, build, extend


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from cli.main import run

    root = tmp_path_factory.mktemp("forked")
    first = build(root / "first", upto=3)
    shutil.copytree(first, root / "fork")  # a copied directory is its own ledger
    files = {"first": first, "fork": root / "fork", "root": root}

    def save(*args: str) -> None:
        with pytest.raises(SystemExit) as done:
            run([*args])
        assert done.value.code == 0

    from ledger.service import Ledger

    def note(directory: Path) -> str:
        ledger = Ledger.open(directory)
        try:
            return ledger.checkpoint()
        finally:
            ledger.store.engine.dispose()

    (root / "cp3.txt").write_text(note(first))
    extend(first, SIZE)
    extend(root / "fork", 5)
    (root / "fork5.txt").write_text(note(root / "fork"))
    (root / "cp6.txt").write_text(note(first))
    save("bundle", "export", str(root / "whole.json"), "--ledger", str(first))
    save("bundle", "export", str(root / "range.json"), "--start", "2", "--end", "5",
         "--ledger", str(first))  # fmt: skip
    ledger = Ledger.open(first)
    (root / "log.vkey").write_text(ledger.verifier.vkey + "\n")
    ledger.store.engine.dispose()
    other = build(root / "other", upto=1)
    ledger = Ledger.open(other)
    (root / "other.vkey").write_text(ledger.verifier.vkey + "\n")
    (root / "other-cp.txt").write_text(ledger.checkpoint())
    ledger.store.engine.dispose()
    return files


def verify_bundle(cli: RunCli, logs: dict[str, Path], name: str, *args: str | Path) -> Any:
    root = logs["root"]
    return cli("verify", "--bundle", root / f"{name}.json", "--pubkey", root / "log.vkey",
               *args, "--json")  # fmt: skip


# --- --checkpoint with --bundle -----------------------------------------------------------


@pytest.mark.parametrize("seen", ["cp3.txt", "cp6.txt"])
def test_bundle_extends_an_earlier_checkpoint(
    logs: dict[str, Path], cli: RunCli, seen: str
) -> None:
    result = verify_bundle(cli, logs, "whole", "--checkpoint", logs["root"] / seen)
    assert result.rc == 0, result.stderr
    assert result.json()["checkpoints"] == 2  # the bundle's and the one given


def test_bundle_forked_from_the_checkpoint_exits_1(logs: dict[str, Path], cli: RunCli) -> None:
    fork = logs["root"] / "fork5.txt"
    result = verify_bundle(cli, logs, "whole", "--checkpoint", fork)
    assert result.rc == 1
    line = result.error_line()
    theirs = base64.b64decode(fork.read_text().split("\n")[2]).hex()
    ours = json.loads((logs["root"] / "whole.json").read_text())["checkpoint"].split("\n")[2]
    assert "size 6" in line and "size 5" in line and theirs in line
    assert base64.b64decode(ours).hex() in line
    assert result.json()["ok"] is False


def test_bundle_older_than_the_checkpoint_exits_1(logs: dict[str, Path], cli: RunCli) -> None:
    """A checkpoint of a bigger tree than the bundle's: the bundle is a rollback."""
    bigger = _signed_checkpoint(logs, SIZE + 1, bytes(32))
    result = verify_bundle(cli, logs, "whole", "--checkpoint", bigger)
    assert result.rc == 1
    line = result.error_line()
    assert "older" in line and f"size {SIZE + 1}" in line and f"size {SIZE}" in line


def test_checkpoint_of_another_log_exits_1(logs: dict[str, Path], cli: RunCli) -> None:
    result = verify_bundle(cli, logs, "whole", "--checkpoint", logs["root"] / "other-cp.txt")
    assert result.rc == 1
    assert "other-cp.txt" in result.error_line()


def test_missing_checkpoint_file_exits_2(logs: dict[str, Path], cli: RunCli) -> None:
    result = verify_bundle(cli, logs, "whole", "--checkpoint", logs["root"] / "nope.txt")
    assert result.rc == 2
    assert "nope.txt" in result.error_line()
    assert result.stdout == ""


@pytest.mark.parametrize(("seen", "rc"), [("cp3.txt", 0), ("fork5.txt", 1)])
def test_range_bundle_proves_consistency_from_its_hashes(
    logs: dict[str, Path], cli: RunCli, seen: str, rc: int
) -> None:
    result = verify_bundle(cli, logs, "range", "--checkpoint", logs["root"] / seen)
    assert result.rc == rc, result.stderr


def test_range_bundle_that_cannot_prove_it_exits_2(logs: dict[str, Path], cli: RunCli) -> None:
    """Leaf 0 lies inside the outside node [0, 2) of a [2, 5) bundle: no proof from size 1."""
    from ledger.service import Ledger

    ledger = Ledger.open(logs["first"])
    try:
        at1 = _signed_checkpoint(logs, 1, ledger.inclusion_proof(0, size=1).leaf_hash or b"")
    finally:
        ledger.store.engine.dispose()
    assert verify_bundle(cli, logs, "whole", "--checkpoint", at1).rc == 0  # it is consistent
    result = verify_bundle(cli, logs, "range", "--checkpoint", at1)
    assert result.rc == 2
    assert "cannot prove consistency" in result.error_line()


def _signed_checkpoint(logs: dict[str, Path], size: int, root: bytes) -> Path:
    """A checkpoint for ``size`` and ``root``, signed with the first log's key."""
    from ledger.checkpoints import sign_checkpoint
    from ledger.crypto.keys import read_private_key
    from ledger.crypto.note import NoteSigner
    from ledger.service import Ledger

    ledger = Ledger.open(logs["first"])
    try:
        signer = NoteSigner(ledger.origin, read_private_key(ledger.dir.log_key, passphrase=None))
        note = sign_checkpoint(signer, origin=ledger.origin, size=size, root=root)
    finally:
        ledger.store.engine.dispose()
    path = logs["root"] / f"signed-{size}.txt"
    path.write_text(note)
    return path


# --- --tree-only, --workers, --ledger with --bundle ---------------------------------------------


def test_tree_only_checks_no_signatures(logs: dict[str, Path], cli: RunCli) -> None:
    full = verify_bundle(cli, logs, "whole")
    tree = verify_bundle(cli, logs, "whole", "--tree-only")
    assert full.rc == tree.rc == 0
    assert full.json()["signatures"] == SIZE and tree.json()["signatures"] == 0


def test_workers_are_used_for_a_bundle(logs: dict[str, Path], cli: RunCli) -> None:
    result = verify_bundle(cli, logs, "whole", "--workers", "2")
    assert result.rc == 0, result.stderr
    assert result.json()["signatures"] == SIZE


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--tree-only", "--workers", "2"), "--workers"),
        (("--ledger", "somewhere"), "drop --ledger"),
    ],
)
def test_options_a_bundle_cannot_honour_exit_2(
    logs: dict[str, Path], cli: RunCli, args: tuple[str, ...], words: str
) -> None:
    result = verify_bundle(cli, logs, "whole", *args)
    assert result.rc == 2
    assert words in result.error_line()


# --- a tampered bundle names its first bad entry --------------------------------------------------


def _flip_name(bundle: dict[str, Any], at: int) -> None:
    leaf = bytearray(base64.b64decode(bundle["leaves"][at]))
    leaf[leaf.index(b'"name":"') + 8] ^= 0x01
    bundle["leaves"][at] = base64.b64encode(bytes(leaf)).decode()


@pytest.mark.parametrize(
    ("change", "index"),
    [
        (lambda b: _flip_name(b, 3), 3),
        (lambda b: b["leaves"].insert(2, b["leaves"].pop(3)), 2),
        (lambda b: _flip_name(b, 5), 5),
    ],
)
def test_tampered_bundle_names_the_first_bad_entry(
    logs: dict[str, Path], cli: RunCli, tmp_path: Path, change: Any, index: int
) -> None:
    bundle = json.loads((logs["root"] / "whole.json").read_text())
    change(bundle)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(bundle))
    result = cli("verify", "--bundle", path, "--pubkey", logs["root"] / "log.vkey", "--json")
    assert result.rc == 1
    assert result.json()["index"] == index
    assert result.error_line().startswith(f"medledger: entry {index}: ")


# --- --pubkey with a ledger -----------------------------------------------------------------


def test_ledger_with_its_own_key(logs: dict[str, Path], cli: RunCli) -> None:
    result = cli("verify", "--pubkey", logs["root"] / "log.vkey", ledger=logs["fork"])
    assert result.rc == 0, result.stderr  # the fork kept the first log's key


def test_ledger_with_another_key_exits_1(logs: dict[str, Path], cli: RunCli) -> None:
    result = cli("verify", "--pubkey", logs["root"] / "other.vkey", "--json",
                 ledger=logs["first"])  # fmt: skip
    assert result.rc == 1
    assert "is not the key given with --pubkey" in result.error_line()
    assert result.json()["ok"] is False


def test_ledger_with_a_forked_checkpoint_exits_1(logs: dict[str, Path], cli: RunCli) -> None:
    result = cli("verify", "--checkpoint", logs["root"] / "fork5.txt", ledger=logs["first"])
    assert result.rc == 1
    result.error_line()


# --- other commands' options: honoured or refused ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("checkpoint", "--json", "verify", "{cp}", "--pubkey", "{vkey}"), "--json after"),
        (("checkpoint", "--ledger", "{dir}", "verify", "{cp}", "--pubkey", "{vkey}"),
         "drop --ledger"),
        (("proof", "inclusion", "1", "--format", "tlog-proof", "--json", "--ledger", "{dir}"),
         "drop --json"),
    ],
)
def test_options_other_commands_cannot_honour_exit_2(
    logs: dict[str, Path], cli: RunCli, args: tuple[str, ...], words: str
) -> None:
    root = logs["root"]
    values = {"cp": str(root / "cp6.txt"), "vkey": str(root / "log.vkey"),
              "dir": str(logs["first"])}  # fmt: skip
    result = cli(*(a.format(**values) for a in args))
    assert result.rc == 2
    assert words in result.error_line()
    assert result.stdout == ""
