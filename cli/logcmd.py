"""medledger log, proof and checkpoint: reading the log and its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.errors import InputError
from ledger.service.log import latest_checkpoint, verify_note

log_app = typer.Typer(help="The log: its public key and its entries.", no_args_is_help=True)
proof_app = typer.Typer(help="Inclusion and consistency proofs.", no_args_is_help=True)
checkpoint_app = typer.Typer(help="Signed checkpoints (C2SP tlog-checkpoint).")


@log_app.command("pubkey")
def pubkey(ledger: LedgerOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """The log's verifier key, in signed-note form (name+hash+key)."""
    opened = open_ledger(ledger)
    if as_json:
        emit_json({"origin": opened.origin, "vkey": opened.verifier.vkey})
    else:
        out.print(opened.verifier.vkey, markup=False)


@log_app.command("entries")
def entries(
    start: Annotated[int, typer.Option(min=0)] = 0,
    end: Annotated[int | None, typer.Option(min=0, help="Exclusive.")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Entries [start, end) as {index, leaf_hash, leaf}."""
    rows = open_ledger(ledger).entries(start=start, end=end)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        entry = row["leaf"]["envelope"]["entry"]
        out.print(
            f"{row['index']:>8}  {row['leaf_hash'][:16]}  {entry['time']}  {entry['kind']}",
            markup=False,
        )


@proof_app.command("inclusion")
def inclusion(
    index: Annotated[int, typer.Argument(min=0)],
    size: Annotated[int | None, typer.Option(min=0, help="Tree size (default: now).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or tlog-proof")] = "json",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Proof that entry INDEX is in the tree (RFC 9162 §2.1.3)."""
    opened = open_ledger(ledger)
    if fmt == "tlog-proof":
        if size is not None:
            raise InputError(
                "--format tlog-proof proves against the latest checkpoint; drop --size"
            )
        out.print(opened.tlog_proof(index), end="", markup=False)
        return
    if fmt != "json":
        raise InputError(f"unknown proof format {fmt!r}: use json or tlog-proof")
    proof = opened.inclusion_proof(index, size=size).to_json()
    if as_json:
        emit_json(proof)
    else:
        out.print(f"index {index} in tree of {proof['tree_size']}", markup=False)
        for h in proof["hashes"]:
            out.print(h, markup=False)


@proof_app.command("consistency")
def consistency(
    old: Annotated[int, typer.Argument(min=0)],
    new: Annotated[int | None, typer.Argument(min=0)] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Proof that the tree of size NEW extends the tree of size OLD (RFC 9162 §2.1.4)."""
    proof = open_ledger(ledger).consistency_proof(old, new).to_json()
    if as_json:
        emit_json(proof)
    else:
        out.print(f"tree {proof['old_size']} -> {proof['new_size']}", markup=False)
        for h in proof["hashes"]:
            out.print(h, markup=False)


@checkpoint_app.callback(invoke_without_command=True)
def checkpoint(
    ctx: typer.Context, ledger: LedgerOpt = DEFAULT_DIR, as_json: JsonOpt = False
) -> None:
    """Print the latest signed checkpoint, exactly as text."""
    if ctx.invoked_subcommand is not None:
        return
    latest = latest_checkpoint(open_ledger(ledger))
    if as_json:
        emit_json(latest.to_json())
    else:
        out.print(latest.note, end="", markup=False)


@checkpoint_app.command("verify")
def verify_checkpoint(
    file: Path,
    pubkey: Annotated[list[str], typer.Option(help="Verifier key (name+hash+key); repeatable.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify any C2SP checkpoint or signed note against the given verifier keys."""
    vkeys = [_vkey_text(v) for v in pubkey]
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: {exc.strerror or exc}") from exc
    result = verify_note(data, vkeys, source=str(file))
    if as_json:
        emit_json(result.to_json())
    else:
        out.print(f"{file}: verified by " + ", ".join(result.signers), markup=False)


def _vkey_text(value: str) -> str:
    """A verifier key given inline, or a file holding one."""
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        return path.read_text().strip()
    return value
