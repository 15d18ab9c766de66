"""medledger demo: a guided run on a fresh temporary ledger."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from cli.options import JsonOpt
from cli.output import emit_json, out
from ledger.bundle import export_bundle, verify_bundle
from ledger.errors import VerificationError
from ledger.service import Ledger


def demo(as_json: JsonOpt = False) -> None:
    """Walk through what medledger does, on a throw-away ledger."""
    steps: list[dict[str, Any]] = []

    def step(title: str, detail: str, **facts: Any) -> None:
        steps.append({"step": title, **facts})
        if not as_json:
            out.print(f"[bold]{len(steps)}. {title}[/bold]")
            out.print(detail, markup=False)

    with tempfile.TemporaryDirectory(prefix="medledger-demo-") as tmp:
        root = Path(tmp)
        ledger = Ledger.init(root / "ledger", origin="demo.medledger.local/log")
        step(
            "init",
            f"ledger in {root / 'ledger'}; log verifier key:\n  {ledger.verifier.vkey}",
            vkey=ledger.verifier.vkey,
        )
        for name, role in [
            ("curator-1", "curator"),
            ("site-a", "submitter"),
            ("site-b", "submitter"),
            ("auditor", "verifier"),
        ]:
            ledger.add_key(name, role)
        ledger.revoke_key("site-b", reason="demo: key left the consortium")
        keys = ledger.list_keys()
        step(
            "keys",
            "\n".join(
                f"  {k.name:<10} {k.role:<9} "
                + ("active" if k.revoked_index is None else f"revoked at entry {k.revoked_index}")
                for k in keys
            ),
            keys=len(keys),
        )
        note = ledger.checkpoint()
        step("checkpoint", "signed C2SP checkpoint:\n" + _indent(note), checkpoint=note)
        proof = ledger.inclusion_proof(2)
        step(
            "inclusion proof",
            f"entry 2 is in the tree of {proof.tree_size} with "
            f"{len(proof.hashes)} hashes; as a self-contained C2SP tlog-proof:\n"
            + _indent(ledger.tlog_proof(2)),
            hashes=len(proof.hashes),
        )
        report = ledger.verify()
        step(
            "verify",
            f"full audit: {report.size} entries, {report.signatures} signatures, "
            f"{report.checkpoints} checkpoints: ok",
            size=report.size,
        )
        bundle = json.dumps(export_bundle(ledger)).encode()
        offline = verify_bundle(bundle, [ledger.verifier], source="bundle.json")
        step(
            "offline audit",
            f"a bundle of {len(bundle)} bytes verifies with only the public "
            f"key: {offline.size} entries ok",
            bytes=len(bundle),
        )
        step("tamper", _tamper(root), detected=True)
    if as_json:
        emit_json({"ok": True, "steps": steps})


def _tamper(root: Path) -> str:
    copy = root / "tampered"
    shutil.copytree(root / "ledger", copy)
    config = json.loads((copy / "config.json").read_text())
    config["database_url"] = f"sqlite:///{copy / 'ledger.db'}"
    (copy / "config.json").write_text(json.dumps(config))
    with sqlite3.connect(copy / "ledger.db") as db:
        db.execute("DROP TRIGGER log_leaves_no_update")  # what an attacker with the file does
        db.execute("UPDATE log_leaves SET leaf = replace(leaf, 'site-a', 'site-x') WHERE idx = 2")
    try:
        Ledger.open(copy).verify()
    except VerificationError as exc:
        return f"changed one name in entry 2 of a copy; verify exits 1 with:\n  {exc.diagnostics()}"
    raise AssertionError("tampering went unnoticed")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.rstrip("\n").split("\n"))
