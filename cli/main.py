"""The medledger command: parses arguments, calls ledger.service, prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # click, vendored

from cli import (
    consentcmd,
    datasetcmd,
    datasetgroup,
    demo,
    dupscmd,
    inspectcmd,
    keys,
    lineagecmd,
    logcmd,
    rebuildcmd,
    recovercmd,
    registercmd,
    similarcmd,
    sourcecmd,
    stampcmd,
    verifycmd,
)
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt
from cli.output import emit_json, err, fail_line, out, usage_line
from ledger.errors import LedgerError, show_path
from ledger.service import PASSWORD_ENV, Ledger, env_passphrase, without_password

app = typer.Typer(
    name="medledger",
    help="Provenance and integrity ledger for medical-imaging datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(sourcecmd.app, name="source")
app.add_typer(consentcmd.app, name="consent")

app.add_typer(datasetgroup.app, name="dataset")
app.add_typer(logcmd.log_app, name="log")
app.add_typer(logcmd.proof_app, name="proof")
app.add_typer(logcmd.checkpoint_app, name="checkpoint")
app.add_typer(verifycmd.bundle_app, name="bundle")
app.command("verify")(verifycmd.verify)
app.command("rebuild")(rebuildcmd.rebuild_command)
app.command("recover")(recovercmd.recover_command)
app.command("demo")(demo.demo)
app.command("register")(registercmd.register_command)
app.command("show")(registercmd.show_command)
app.command("similar")(similarcmd.similar_command)
app.command("thresholds")(similarcmd.thresholds_command)
app.command("scan")(similarcmd.scan_command)
app.command("dups")(dupscmd.dups)
app.command("leakage")(dupscmd.leakage)
app.command("overlap")(datasetcmd.overlap)
app.command("composition")(datasetcmd.composition)
app.command("inspect")(inspectcmd.inspect_command)

app.command("derive")(lineagecmd.derive_command)
app.command("lineage")(lineagecmd.lineage_command)

app.command("stamp")(stampcmd.stamp_command)
app.command("check")(stampcmd.check_command)


@app.command("init")
def init(
    origin: Annotated[
        str | None, typer.Option(help="Log origin line (default: generated).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///PATH (default) or postgresql://...")
    ] = None,
    require_deidentified: Annotated[
        bool, typer.Option(help="Refuse identifiable images (a public repository's policy).")
    ] = False,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Create a ledger: database, log key, admin key, repository secret."""
    created = Ledger.init(
        ledger,
        database_url=database_url,
        origin=origin,
        passphrase=env_passphrase(),
        require_deidentified=require_deidentified,
    )
    result = {"ledger": str(ledger), "origin": created.origin, "vkey": created.verifier.vkey}
    if database_url and without_password(database_url)[1]:
        result["database_password"] = PASSWORD_NOTE
    if as_json:
        emit_json(result)
    else:
        out.print(
            f"created ledger in {show_path(ledger)}\norigin: {created.origin}\n"
            f"verifier key: {created.verifier.vkey}",
            markup=False,
        )
        if "database_password" in result:
            err.print(f"note: {PASSWORD_NOTE}", markup=False)


PASSWORD_NOTE = (
    f"the database password is not kept in config.json; set {PASSWORD_ENV} "
    "(or PGPASSWORD, or a ~/.pgpass line) for every command on this ledger"
)


def run(argv: list[str] | None = None) -> None:
    """Entry point: one line and exit 2 for bad input, 1 for a verification failure."""
    try:
        code = app(args=argv, standalone_mode=False)
    except LedgerError as exc:
        fail_line(exc.diagnostics())
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:  # a bare group: typer (rich) printed its help already
        if exc.format_message().strip():
            exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # usage errors: one line too, not click's box
        fail_line(usage_line(exc.format_message()))
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail_line("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["Path", "app", "run"]
