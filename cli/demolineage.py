"""The demo's lineage step: a CT windowed to an 8-bit PNG, resized, walked back, as PROV."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from ledger.service import Ledger
from ledger.service.lineage import derive
from ledger.service.lineageview import export_prov, lineage


def lineage_step(ledger: Ledger, root: Path, *, key: str) -> str:
    """Derive two images from the registered CT_small.dcm and show the lineage."""
    ct = root / "incoming" / "CT_small.dcm"
    if not ct.exists():
        return "CT_small.dcm is not among pydicom's files here: no lineage to show"
    ds = pydicom.dcmread(ct)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    windowed = (np.clip((hu + 160) / 400, 0, 1) * 255).round().astype(np.uint8)  # 40/400
    folder = root / "derived"
    folder.mkdir()
    Image.fromarray(windowed).save(folder / "ct_w.png")
    Image.fromarray(windowed).resize((64, 64), Image.Resampling.BICUBIC).save(folder / "ct_64.png")
    derive(ledger, parent=str(ct), child=folder / "ct_w.png", key=key, software="demo",
           steps=["window:center=40,width=400", "convert:from=dicom,to=png"])
    made = derive(ledger, parent=str(folder / "ct_w.png"), child=folder / "ct_64.png", key=key,
                  steps=["resize:size=64x64,method=bicubic"])
    tree = lineage(ledger, str(folder / "ct_64.png"))
    tree.require_verified()
    lines = [f"ct_64.png (entry {made.child}) back to its original, entry {tree.originals[0]}:"]
    for edge in tree.back:
        terms = ", ".join(s["term"] for s in edge["steps"])
        lines.append(f"  entry {edge['entry']}: {edge['parent']} -> {edge['child']} by {terms}, "
                     f"signed by {edge['signer']['name']}: signature {edge['signature']}, "
                     f"inclusion {edge['inclusion']}")
    prov = folder / "ct_64.provn"
    count = export_prov(ledger, str(folder / "ct_64.png"), prov, "provn")
    text = prov.read_text()
    first = next(line for line in io.StringIO(text) if "activity(" in line).strip()
    lines.append(f"as W3C PROV-N: {count} activities, e.g.\n  {first[:150]}")
    return "\n".join(lines)
