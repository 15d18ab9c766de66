"""medledger derive and lineage: record preprocessing steps, walk and export an image's tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger, refuse_with
from cli.output import emit_json, out
from ledger.service.lineage import Overrides, derive
from ledger.service.lineageview import export_prov, lineage

DERIVE_HELP = (
    "Record that CHILD was made from PARENT by ordered preprocessing steps.\n\n"
    "Registers CHILD if it is not yet registered (with PARENT's source, licence and consent "
    "unless --source/--license/--consent say otherwise) and appends a signed image.derived "
    "entry. Contradictions are refused (exit 2, nothing written): a resize whose size the "
    "child does not have, a lossless conversion that changed the pixels, a crop outside the "
    "parent, an unknown term or parameter, an unregistered parent, a cycle. Terms and their "
    "parameters: docs/vocabulary.md.\n\n"
    "Example: medledger derive ct.dcm ct_w.png --step window:center=40,width=400 "
    "--step convert:from=dicom,to=png --key curator"
)

LINEAGE_HELP = (
    "An image's derivation tree: back to its registered originals and forward to every known "
    "derivative, each step with its signer and time, every fact read from a signed leaf "
    "checked now (signature, inclusion proof). Exit 1 if one does not verify.\n\n"
    "Example: medledger lineage small.jpg --prov small.prov.json --format json"
)


def derive_command(
    parent: Annotated[str, typer.Argument(
        help="The parent: a registered file, its file or pixel SHA-256, or its entry index.")],
    child: Annotated[Path, typer.Argument(help="The derived image file.", readable=False)],
    key: Annotated[str, typer.Option(help="Name of the key that signs the entries.")],
    step: Annotated[list[str] | None, typer.Option(
        "--step", help="A step NAME:k=v,... in the order applied (repeat).")] = None,
    steps_file: Annotated[Path | None, typer.Option(
        help="A JSON list of steps, after the --step ones.", readable=False)] = None,
    software: Annotated[str | None, typer.Option(help="The software that made the child.")] = None,
    software_version: Annotated[str | None, typer.Option(help="Its version.")] = None,
    source: Annotated[str | None, typer.Option(
        help="The child's source, if not the parent's (when it is registered here).")] = None,
    license: Annotated[str | None, typer.Option(
        "--license", help="The child's SPDX licence, if not the parent's.")] = None,
    consent: Annotated[str | None, typer.Option(
        help="The child's consent status, if not the parent's.")] = None,
    dataset: Annotated[str | None, typer.Option(
        help="Dataset label for the child's registration (not inherited).")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    result = derive(
        open_ledger(ledger), parent=parent, child=child, steps=step or [],
        steps_file=steps_file, key=key, software=software, software_version=software_version,
        overrides=Overrides(source=source, license=license, consent=consent, dataset=dataset),
    )
    if as_json:
        emit_json(result.to_json())
        return
    terms = ", ".join(s["term"] for s in result.steps)
    if result.existing:
        out.print(f"already recorded: entry {result.entry} ({terms})", markup=False)
        return
    made = " (registered now)" if result.child_registered else ""
    out.print(f"entry {result.entry}: image {result.child}{made} derived from image "
              f"{result.parent} by {terms}", markup=False)


derive_command.__doc__ = DERIVE_HELP


def lineage_command(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(
        help="An image file, its file or pixel SHA-256, or its entry index.")],
    prov: Annotated[Path | None, typer.Option(
        "--prov", help="Also write the tree as W3C PROV to this new file.",
        readable=False)] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="PROV format: json (PROV-JSON), jsonld or provn.")] = "json",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    if prov is None:
        refuse_with(ctx, "fmt", "--format is the format of --prov; give --prov FILE")
    opened = open_ledger(ledger)
    result = lineage(opened, image)
    if as_json:
        emit_json(result.to_json())
    else:
        _print(result.to_json())
    result.require_verified()
    if prov is not None:
        count = export_prov(opened, image, prov, fmt)
        if not as_json:
            out.print(f"wrote {count} activities to {prov} ({fmt})", markup=False)


lineage_command.__doc__ = LINEAGE_HELP


def _print(tree: dict[str, Any]) -> None:
    images = tree["images"]

    def name(index: int) -> str:
        info = images.get(str(index), {})
        return f"image {index} ({info.get('format', '?')}, {info.get('source', '?')})"

    out.print(f"{name(tree['image'])}; originals: "
              + ", ".join(str(i) for i in tree["originals"]), markup=False)
    for title, edges in (("back", tree["back"]), ("forward", tree["forward"])):
        out.print(f"{title}: {len(edges)} derivation(s)", markup=False)
        for edge in edges:
            out.print("  " * edge["depth"] + _edge_line(edge), markup=False)
            if "problem" in edge:
                out.print("  " * edge["depth"] + f"  PROBLEM: {edge['problem']}", markup=False)


def _edge_line(edge: dict[str, Any]) -> str:
    signer = edge["signer"] or {"name": "?", "key_id": "?"}
    steps = ", ".join(_step_text(s) for s in edge.get("steps", [])) or (
        "inferred from DICOM: " + (" ".join(edge.get("codes", [])) or "no codes"))
    return (f"entry {edge['entry']}: {edge.get('parent')} -> {edge.get('child')} by {steps}; "
            f"signed by {signer['name']} ({signer['key_id'][:16]}) at {edge['time']}, "
            f"signature {edge['signature']}, inclusion {edge['inclusion']}")


def _step_text(step: dict[str, Any]) -> str:
    params = ",".join(f"{k}={v}" for k, v in step.items() if k != "term")
    return f"{step['term']}:{params}" if params else step["term"]
