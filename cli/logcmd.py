"""medledger log, proof and checkpoint: reading the log and its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger, refuse_with
from cli.output import emit_json, out
from ledger.errors import InputError, VerificationError, show_path
from ledger.service.log import MAX_INDEX, latest_checkpoint, read_verifiers, verify_note
from ledger.service.proofs import verify_proof_files

log_app = typer.Typer(help="The log: its public key and its entries.", no_args_is_help=True)
proof_app = typer.Typer(
    help="Inclusion and consistency proofs; 'proof verify' checks one offline.",
    no_args_is_help=True,
)
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
    start: Annotated[int, typer.Option(min=0, max=MAX_INDEX)] = 0,
    end: Annotated[int | None, typer.Option(min=0, max=MAX_INDEX, help="Exclusive.")] = None,
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
        if as_json:
            raise InputError("--format tlog-proof prints the C2SP text; drop --json")
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
    if ctx.invoked_subcommand is not None:  # 'checkpoint verify' reads files, no ledger
        refuse_with(ctx, "ledger", "checkpoint verify needs no ledger; drop --ledger")
        refuse_with(ctx, "as_json", "put --json after 'checkpoint verify FILE'")
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
    verifiers = read_verifiers(pubkey)
    where = show_path(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: {exc.strerror or exc}") from None
    result = verify_note(data, verifiers, source=where)
    if as_json:
        emit_json(result.to_json())
    else:
        out.print(f"{where}: verified by " + ", ".join(result.signers), markup=False)


@proof_app.command("verify")
def verify_proof(
    pubkey: Annotated[
        list[str], typer.Option(help="The log's verifier key, or a file holding it.")
    ],
    tlog_proof: Annotated[
        Path | None, typer.Option(help="A C2SP tlog-proof (proof inclusion --format tlog-proof).")
    ] = None,
    inclusion: Annotated[
        Path | None, typer.Option(help="An inclusion proof as 'proof inclusion --json' prints.")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="The signed checkpoint (with --inclusion).")
    ] = None,
    leaf: Annotated[Path | None, typer.Option(help="The leaf's exact bytes.")] = None,
    entry_json: Annotated[
        Path | None, typer.Option(help="The entry as 'log entries --json' prints it.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a proof offline against a signed checkpoint; exit 1 if it does not hold.

    Example: medledger proof verify --tlog-proof e7.proof --pubkey log.vkey --entry-json e7.json
    """
    try:
        result = verify_proof_files(
            pubkeys=pubkey,
            tlog_proof=tlog_proof,
            inclusion=inclusion,
            checkpoint=checkpoint,
            leaf=leaf,
            entry_json=entry_json,
        )
    except VerificationError as exc:
        if as_json:
            emit_json({"ok": False, "reason": exc.diagnostics()})
        raise
    if as_json:
        emit_json(result.to_json())
    else:
        out.print(
            f"ok: entry {result.index} (leaf {result.leaf_hash.hex()[:16]}, "
            f"{result.to_json()['leaf']}) is in {result.origin} at tree size {result.tree_size}",
            markup=False,
        )
