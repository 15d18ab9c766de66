"""Offline audit bundles: exported by the ledger, verified with only the log's public key."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .builders import SIZE, RunCli, build, snapshot


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Bundles of the standard history (whole, [2, 5) and [0, 3)), then the ledger is gone."""
    from cli.main import run

    root = tmp_path_factory.mktemp("bundles")
    directory = build(root / "ledger")
    files = {"whole": root / "whole.json", "middle": root / "middle.json",
             "head": root / "head.json"}
    ranges = {"whole": [], "middle": ["--start", "2", "--end", "5"],
              "head": ["--start", "0", "--end", "3"]}
    for name, path in files.items():
        with pytest.raises(SystemExit) as done:
            run(["bundle", "export", str(path), *ranges[name], "--ledger", str(directory)])
        assert done.value.code == 0
    vkey_file = root / "log.vkey"
    from ledger.service import Ledger

    ledger = Ledger.open(directory)
    vkey_file.write_text(ledger.verifier.vkey + "\n")
    ledger.store.engine.dispose()
    shutil.rmtree(directory)  # an outside auditor has no ledger
    return {"files": files, "vkey": vkey_file.read_text().strip(), "vkey_file": vkey_file}


def test_export_summary(tmp_path: Path, run_cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=3)
    target = tmp_path / "b.json"
    result = run_cli("bundle", "export", target, "--json", ledger=directory)
    assert result.rc == 0, result.stderr
    summary = result.json()
    assert summary["start"] == 0 and summary["end"] == 3
    assert summary["log_key"] == run_cli("log", "pubkey", ledger=directory).stdout.strip()
    bundle = json.loads(target.read_text())
    assert bundle["format"] == "medledger-bundle/v1"
    assert len(bundle["leaves"]) == 3
    assert bundle["checkpoint"] == summary["checkpoint"]


@pytest.mark.parametrize(("name", "size"), [("whole", SIZE), ("middle", 5), ("head", 3)])
def test_bundle_verifies_with_no_ledger(
    exported: dict[str, Any], run_cli: RunCli, tmp_path: Path, name: str, size: int
) -> None:
    result = run_cli("verify", "--bundle", exported["files"][name], "--pubkey", exported["vkey"],
                     "--json")
    assert result.rc == 0, result.stderr
    report = result.json()
    assert report["ok"] is True
    assert report["size"] == size
    assert list((tmp_path / "cwd").iterdir()) == []  # nothing written where it ran


def test_bundle_key_from_a_file(exported: dict[str, Any], run_cli: RunCli) -> None:
    result = run_cli("verify", "--bundle", exported["files"]["whole"],
                     "--pubkey", exported["vkey_file"])
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("ok:")


# --- bundles that must not verify -------------------------------------------------------


def _flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def _flip_leaf(bundle: dict[str, Any], at: int) -> None:
    leaf = bytearray(base64.b64decode(bundle["leaves"][at]))
    leaf[leaf.index(b'"name":"') + 8] ^= 0x01
    bundle["leaves"][at] = base64.b64encode(bytes(leaf)).decode()


def _drop_revocation(bundle: dict[str, Any]) -> None:
    """Leave out the revocation at 4 and show leaf 5 as an outside node instead."""
    import hashlib

    last = base64.b64decode(bundle["leaves"][5])
    del bundle["leaves"][4:]
    bundle["end"] = 4
    bundle["outside"] = [{"start": 4, "end": 6,
                          "hash": hashlib.sha256(b"\x00" + last).hexdigest()}]


TAMPERED = {
    # name: (which bundle, change, exit code)
    "flipped-outside-hash": ("middle", lambda b: b["outside"][0].update(
        hash=_flip_hex(b["outside"][0]["hash"])), 1),
    "flipped-prev-leaf-hash": ("middle", lambda b: b["prev_leaf"].update(
        leaf_hash=_flip_hex(b["prev_leaf"]["leaf_hash"])), 1),
    "flipped-byte-in-a-leaf": ("whole", lambda b: _flip_leaf(b, 3), 1),
    "leaves-swapped": ("whole", lambda b: b["leaves"].insert(2, b["leaves"].pop(3)), 1),
    "revocation-dropped": ("whole", _drop_revocation, 1),
    "checkpoint-size-changed": ("whole", lambda b: b.update(
        checkpoint=b["checkpoint"].replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n", 1)), 1),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_bundle_fails_verification(
    exported: dict[str, Any], run_cli: RunCli, tmp_path: Path, case: str
) -> None:
    which, change, code = TAMPERED[case]
    bundle = json.loads(exported["files"][which].read_text())
    change(bundle)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(bundle))
    before = snapshot(tmp_path)
    result = run_cli("verify", "--bundle", path, "--pubkey", exported["vkey"], "--json")
    assert result.rc == code, (result.stdout, result.stderr)
    result.error_line()
    assert result.json()["ok"] is False
    assert snapshot(tmp_path) == before


CORRUPT = {
    "truncated-json": lambda text: text[: len(text) // 2],
    "empty-file": lambda text: "",
    "not-utf8": lambda text: "\udcff",
    "a-json-list": lambda text: "[]",
    "wrong-format": lambda text: text.replace("medledger-bundle/v1", "medledger-bundle/v9"),
    "leaves-not-a-list": lambda text: json.dumps({**json.loads(text), "leaves": "x"}),
    "leaf-not-base64": lambda text: json.dumps(
        {**json.loads(text), "leaves": ["%%%", *json.loads(text)["leaves"][1:]]}),
    "outside-item-without-fields": lambda text: json.dumps({**json.loads(text), "outside": [{}]}),
    "short-hash": lambda text: json.dumps({**json.loads(text), "prev_leaf": {
        **json.loads(text)["prev_leaf"], "leaf_hash": "abcd"}}),
    "range-beyond-checkpoint": lambda text: json.dumps({**json.loads(text), "end": 99}),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_bundle_is_bad_input(
    exported: dict[str, Any], run_cli: RunCli, tmp_path: Path, case: str
) -> None:
    text = exported["files"]["middle"].read_text()
    path = tmp_path / "corrupt.json"
    path.write_bytes(CORRUPT[case](text).encode("utf-8", "surrogateescape"))
    before = snapshot(tmp_path)
    result = run_cli("verify", "--bundle", path, "--pubkey", exported["vkey"])
    assert result.rc == 2, (result.stdout, result.stderr)
    assert str(path) in result.error_line()
    assert result.stdout == ""
    assert snapshot(tmp_path) == before


def test_wrong_public_key_fails_verification(
    exported: dict[str, Any], run_cli: RunCli, tmp_path: Path
) -> None:
    other = build(tmp_path / "other", upto=1)
    vkey = run_cli("log", "pubkey", ledger=other).stdout.strip()
    result = run_cli("verify", "--bundle", exported["files"]["whole"], "--pubkey", vkey, "--json")
    assert result.rc == 1
    assert "no verifiable signatures" in result.error_line()
    assert result.json() == {"ok": False, "index": None, "reason": result.json()["reason"]}


@pytest.mark.parametrize("vkey", ["nonsense", "name+00000000+AAAA", ""])
def test_malformed_public_key_is_bad_input(
    exported: dict[str, Any], run_cli: RunCli, vkey: str
) -> None:
    result = run_cli("verify", "--bundle", exported["files"]["whole"], "--pubkey", vkey)
    assert result.rc == 2
    result.error_line()


def test_bundle_needs_a_public_key(exported: dict[str, Any], run_cli: RunCli) -> None:
    result = run_cli("verify", "--bundle", exported["files"]["whole"])
    assert result.rc == 2
    assert "--pubkey" in result.error_line()


def test_missing_bundle_file(run_cli: RunCli, tmp_path: Path, exported: dict[str, Any]) -> None:
    result = run_cli("verify", "--bundle", tmp_path / "nope.json", "--pubkey", exported["vkey"])
    assert result.rc == 2
    assert "nope.json" in result.error_line()


def test_export_refuses_to_overwrite(ledger_dir: Path, run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "existing.json"
    target.write_text("keep me")
    result = run_cli("bundle", "export", target, ledger=ledger_dir)
    assert result.rc == 2
    assert str(target) in result.error_line()
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("bounds", [("3", "2"), ("0", "99"), ("7", "8")])
def test_export_refuses_a_bad_range(
    ledger_dir: Path, run_cli: RunCli, tmp_path: Path, bounds: tuple[str, str]
) -> None:
    target = tmp_path / "b.json"
    before = snapshot(ledger_dir)
    result = run_cli("bundle", "export", target, "--start", bounds[0], "--end", bounds[1],
                     ledger=ledger_dir)
    assert result.rc == 2
    result.error_line()
    assert not target.exists()
    assert snapshot(ledger_dir) == before
