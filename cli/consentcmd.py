"""medledger consent: set, show, impact and erase (subjects and their images)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.errors import InputError
from ledger.service import Ledger
from ledger.service.consent import (
    ConsentShown,
    consent_impact,
    erase_subject,
    read_patient_id,
    set_consent,
    show_consent,
    subject_of_patient_id,
)

app = typer.Typer(
    help=(
        "Consent per subject and per image (GA4GH DUO scopes), what a withdrawal touches, "
        "and erasure.\n\n"
        "Example: medledger consent set --subject skey-hmac-sha256:3f2a... --status withdrawn "
        "--reason subject-request --key officer\n\n"
        "Example: medledger consent impact 42 --json\n\n"
        "A subject is its pseudonym (pseudonyms.PatientID of its entries), a registered image "
        "of theirs (entry index or file), or --patient-id-file FILE (or - for stdin): the ID is "
        "read, turned into the subject's lookup tag, and never stored or printed."
    ),
    no_args_is_help=True,
)
RefArg = Annotated[str | None, typer.Argument(
    help="A subject pseudonym, an image's entry index, or a registered image file.")]
PatientOpt = Annotated[Path | None, typer.Option(
    "--patient-id-file", help="Read the subject's Patient ID from this file (- for stdin).")]
IssuerOpt = Annotated[str, typer.Option(help="Issuer of Patient ID, with --patient-id-file.")]
KeyOpt = Annotated[str, typer.Option("--key", help="A consent-officer or admin key.")]
ReasonOpt = Annotated[str | None, typer.Option(
    help="A reason code: subject-request, guardian-request, ethics-decision, "
         "legal-requirement, study-ended, data-quality, correction, other.")]


def _subject(ledger: Ledger, ref: str | None, patient_id_file: Path | None, issuer: str) -> str:
    if (ref is None) == (patient_id_file is None):
        raise InputError("name the subject or image, or give --patient-id-file (one of them)")
    if patient_id_file is not None:
        patient_id = read_patient_id(patient_id_file, stdin=sys.stdin.read)
        return subject_of_patient_id(ledger, patient_id, issuer=issuer)
    return str(ref)


@app.command("set")
def set_command(
    images: Annotated[list[str] | None, typer.Argument(
        help="Images (entry indexes or registered files), unless --subject is given.")] = None,
    subject: Annotated[str | None, typer.Option(
        help="The subject: its pseudonym, or an image of theirs.")] = None,
    patient_id_file: PatientOpt = None,
    issuer: IssuerOpt = "",
    status: Annotated[str, typer.Option(help="granted, restricted or withdrawn.")] = "",
    scope: Annotated[list[str] | None, typer.Option(
        help="DUO codes (DUO:0000042 or GRU; repeat or comma-separate).")] = None,
    reason: ReasonOpt = None,
    key: KeyOpt = "admin",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Record a consent change (a signed consent.changed entry) for a subject or images."""
    opened = open_ledger(ledger)
    if patient_id_file is not None:
        subject = _subject(opened, subject, patient_id_file, issuer)
    result = set_consent(opened, subject=subject, images=images or [], status=status,
                         scope=scope or [], reason=reason, key=key)
    if as_json:
        emit_json(result.to_json())
        return
    scope_text = " ".join(result.scope) or "no scope"
    out.print(f"entry {result.index}: {result.target} {result.status} ({scope_text})",
              markup=False)


@app.command("show")
def show_command(
    ref: RefArg = None,
    patient_id_file: PatientOpt = None,
    issuer: IssuerOpt = "",
    at: Annotated[str | None, typer.Option(
        help="The state as of this entry index or UTC time (2026-01-31T12:00:00Z).")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Consent history and state of a subject or image (every fact from a checked leaf)."""
    opened = open_ledger(ledger)
    result = show_consent(opened, _subject(opened, ref, patient_id_file, issuer), at=at)
    if as_json:
        emit_json(result.to_json())
        return
    _print_shown(result)


def _print_shown(result: ConsentShown) -> None:
    target = result.target
    when = "" if result.at is None else f" at {result.at}"
    out.print(f"{target.describe()}{when}", markup=False)
    if target.image is not None and target.subject:
        out.print(f"  subject {target.subject}", markup=False)
    if result.erased_at is not None:
        out.print(f"  subject erased at index {result.erased_at}", markup=False)
    state = result.state
    if state.status is None:
        out.print("  state: no consent.changed yet (the registration's consent stands)",
                  markup=False)
    else:
        out.print(f"  state: {state.status} since entry {state.since}; scope "
                  f"{' '.join(state.scope) or 'none'}; forbids "
                  f"{', '.join(state.forbidden_uses) or 'nothing'}", markup=False)
    for event in result.history:
        out.print(f"  entry {event.index} {event.time} {event.target}: {event.status} "
                  f"{' '.join(event.scope)} {event.reason or ''}".rstrip(), markup=False)
    for image in result.images:
        out.print(f"  image {image['image']}: {image['status'] or 'no change'}", markup=False)


@app.command("impact")
def impact_command(
    ref: RefArg = None,
    patient_id_file: PatientOpt = None,
    issuer: IssuerOpt = "",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """What a withdrawal touches: the subject's images, their derivatives, dataset labels."""
    opened = open_ledger(ledger)
    result = consent_impact(opened, _subject(opened, ref, patient_id_file, issuer))
    if as_json:
        emit_json(result.to_json())
        return
    out.print(f"{result.target.describe()}: {len(result.images)} image(s): "
              + " ".join(map(str, result.images)), markup=False)
    out.print(f"{len(result.derivatives)} derivative(s): "
              + " ".join(map(str, result.derivatives)), markup=False)
    out.print("datasets: " + (", ".join(result.datasets) or "none"), markup=False)


@app.command("erase")
def erase_command(
    ref: RefArg = None,
    patient_id_file: PatientOpt = None,
    issuer: IssuerOpt = "",
    reason: ReasonOpt = None,
    key: KeyOpt = "admin",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Erase a subject: a signed subject.erased entry, its key and side data deleted."""
    opened = open_ledger(ledger)
    result = erase_subject(opened, _subject(opened, ref, patient_id_file, issuer), key=key,
                           reason=reason)
    if as_json:
        emit_json(result.to_json())
        return
    out.print(f"entry {result.index}: subject erased ({result.keys_deleted} key, "
              f"{result.demographics_deleted} demographics rows deleted)", markup=False)
