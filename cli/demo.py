"""medledger demo: a guided run on a fresh temporary ledger."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from cli import demodataset, demolineage
from cli.democonsent import withdrawal_and_erasure
from cli.options import JsonOpt
from cli.output import emit_json, out
from ledger.errors import VerificationError
from ledger.service import Ledger
from ledger.service.bundles import export_bundle, verify_bundle
from ledger.service.registration import RegisterOptions, register, show
from ledger.service.similarity import composition, dataset_set, leaks, similar


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
            ("site-c", "submitter"),
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
        step("register", _register(ledger, root), registered=True)
        step("duplicates", _duplicates(ledger, root), duplicates=True)
        step("provenance of a dataset", _provenance(ledger), composition=True)
        step("lineage", demolineage.lineage_step(ledger, root, key="site-a"), lineage=True)
        shown, statuses = demodataset.dataset_step(ledger, root, key="curator-1")
        step("dataset version, pin and a damaged copy", shown, copy=statuses)
        step("withdrawal and erasure", withdrawal_and_erasure(ledger, _first_image(ledger)),
             withdrawn=True)
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
        offline = verify_bundle(bundle, [ledger.verifier.vkey], source="bundle.json")
        step(
            "offline audit",
            f"a bundle of {len(bundle)} bytes verifies with only the public "
            f"key: {offline.size} entries ok",
            bytes=len(bundle),
        )
        step("tamper", _tamper(root), detected=True)
    if as_json:
        emit_json({"ok": True, "steps": steps})


DEMO_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb.dcm",
)


def _register(ledger: Ledger, root: Path) -> str:
    """Register pydicom's public test files: same pixels in any encoding share a digest."""
    from pydicom.data import get_testdata_file

    folder = root / "incoming"
    folder.mkdir()
    for name in DEMO_FILES:
        # download=False: the demo runs offline, from pydicom's own files (and
        # pydicom-data's, when installed); a file found in neither is left out.
        found = get_testdata_file(name, download=False)
        if isinstance(found, str):
            shutil.copy(found, folder / name)
    (folder / "notes.txt").write_text("not an image\n")
    summary = register(
        ledger,
        [folder],
        RegisterOptions(
            source="site-a",
            license="CC-BY-4.0",
            consent="waived",
            key="site-a",
            dataset="demo-set",
            workers=1,
        ),
    )
    rerun = register(
        ledger,
        [folder],
        RegisterOptions(
            source="site-a", license="CC-BY-4.0", consent="waived", key="site-a", workers=1
        ),
    )
    lines = [
        f"registered {summary.registered} public DICOM test files from pydicom as site-a;"
        f" refused {len(summary.refused)}:"
    ]
    lines += [f"  {Path(r['path']).name}: {r['reason']}" for r in summary.refused]
    lines.append(f"rerun: {rerun.registered} registered, {rerun.already_known} already known")
    digests: dict[str, list[str]] = {}
    for name in DEMO_FILES:
        shown = show(ledger, str(folder / name)) if (folder / name).exists() else None
        if shown and shown.registrations:
            digests.setdefault(shown.registrations[0]["image"]["pixel_sha256"], []).append(name)
    for digest, names in digests.items():
        if len(names) > 1:
            lines.append(f"same pixels, different encodings ({digest[:16]}): " + ", ".join(names))
    return "\n".join(lines)


def _duplicates(ledger: Ledger, root: Path) -> str:
    """Another repository re-hosts exports of site-a's images: each is traced to its origin."""
    import numpy as np
    import pydicom
    from PIL import Image

    folder = root / "rehosted"
    folder.mkdir()
    for name, target in (("CT_small.dcm", "ct-export.jpg"), ("MR_small.dcm", "mr-mirrored.png")):
        pixels = pydicom.dcmread(root / "incoming" / name).pixel_array.astype(np.float64)
        span = float(pixels.max() - pixels.min()) or 1.0
        image = Image.fromarray(np.uint8((pixels - pixels.min()) / span * 255))
        if "mirrored" in target:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image.save(folder / target, quality=50)  # quality: JPEG only
    summary = register(
        ledger,
        [folder],
        RegisterOptions(
            source="site-c",
            license="CC-BY-4.0",
            consent="unknown",
            key="site-c",
            dataset="rehosted@1",
            workers=1,
        ),
    )
    lines = [f"site-c registered {summary.registered} 8-bit exports of site-a's images:"]
    for dup in summary.duplicates:
        for match in dup["matches"]:
            where = match.get("index", match.get("path"))
            lines.append(
                f"  {Path(dup['path']).name}: {match['kind']} duplicate of entry {where}"
                f" ({match.get('source', 'this run')}, consent {match.get('consent', '?')}):"
                f" {match['detail']}"
            )
    found = similar(ledger, str(folder / "ct-export.jpg"), top=1)
    if found:
        lines.append(
            f"similar ct-export.jpg -> entry {found[0]['index']} from {found[0]['source']},"
            f" registered {found[0]['registered']}"
        )
    return "\n".join(lines)


def _provenance(ledger: Ledger) -> str:
    """rehosted@1 as a Frankenstein dataset, and as the test split of demo-set."""
    rehosted, original = dataset_set(ledger, "rehosted@1"), dataset_set(ledger, "demo-set")
    if rehosted is None or original is None:
        return "nothing to compare"
    made = composition(ledger, rehosted)
    lines = [f"composition of rehosted@1 ({made.total} images):"]
    lines += [f"  {s.kind:<8} {s.name:<10} {s.share:6.1%}" for s in made.shares]
    lines.append(f"  seen nowhere before: {made.unseen_share:.1%}")
    pairs = leaks(ledger, original, rehosted)
    lines.append(
        f"leakage with demo-set as training and rehosted@1 as test: {len(pairs)} pairs"
        " cross the split"
    )
    return "\n".join(lines)


def _tamper(root: Path) -> str:
    copy = root / "tampered"
    shutil.copytree(root / "ledger", copy)  # a copied directory is its own ledger
    with sqlite3.connect(copy / "ledger.db") as db:
        db.execute("DROP TRIGGER log_leaves_no_update")  # what an attacker with the file does
        db.execute("UPDATE log_leaves SET leaf = replace(leaf, 'site-a', 'site-x') WHERE idx = 2")
    try:
        Ledger.open(copy).verify()
    except VerificationError as exc:
        return f"changed one name in entry 2 of a copy; verify exits 1 with:\n  {exc.diagnostics()}"
    raise AssertionError("tampering went unnoticed")


def _first_image(ledger: Ledger) -> int:
    """The first image.registered entry (a DICOM file of pydicom's, with a subject)."""
    return int(next(row["index"] for row in ledger.entries()
                    if row["leaf"]["envelope"]["entry"]["kind"] == "image.registered"))


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.rstrip("\n").split("\n"))
