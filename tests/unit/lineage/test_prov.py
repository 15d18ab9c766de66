"""The streaming PROV writers: PROV-JSON read back by ``prov``, PROV-N and PROV-JSONLD."""

from __future__ import annotations

import io
import json

from prov.model import ProvActivity, ProvDocument, ProvEntity

from ledger.lineage.prov import Derivation, ImageNode, StepRecord, write_prov


def _chain(length: int) -> list[Derivation]:
    nodes = [ImageNode(10 + i, f"{i:064x}", f"{i + 100:064x}") for i in range(length + 1)]
    return [
        Derivation(entry=1000 + i, time="2026-12-07T18:00:00.000000Z", signer_id="ab" * 32,
                   signer_name="curator", parent=nodes[i], child=nodes[i + 1],
                   steps=[StepRecord("resize", {"width": 8, "height": 8},
                                     [("113085", "Spatial resampling")], "c2pa.resized"),
                          StepRecord("window", {"center": "40", "width": "400"}, [],
                                     "c2pa.color_adjustments")],
                   inferred=False, codes=[], software='tool "x" 1.0')
        for i in range(length)
    ]


def test_prov_json_reads_back() -> None:
    out = io.StringIO()
    assert write_prov(_chain(3), out, "json") == 6
    document = ProvDocument.deserialize(content=out.getvalue(), format="json")
    assert len(list(document.get_records(ProvActivity))) == 6
    assert len(list(document.get_records(ProvEntity))) == 4  # each image once
    relations = {type(r).__name__ for r in document.get_records()}
    assert {"ProvUsage", "ProvGeneration", "ProvCommunication", "ProvAssociation",
            "ProvDerivation", "ProvAgent"} <= relations


def test_an_inferred_edge_is_typed_by_its_derivation_codes() -> None:
    [edge] = _chain(1)
    inferred = Derivation(**{**edge.__dict__, "steps": [], "inferred": True,
                             "codes": ["DCM:113040", "99X:1"]})
    out = io.StringIO()
    assert write_prov([inferred], out, "json") == 1
    [activity] = ProvDocument.deserialize(content=out.getvalue(),
                                          format="json").get_records(ProvActivity)
    assert {t.uri for t in activity.get_asserted_types()} == {
        "https://medledger.local/ns/lineage#inferred",
        "http://dicom.nema.org/resources/ontology/DCM/113040"}


def test_prov_n_and_jsonld_list_every_record() -> None:
    out = io.StringIO()
    write_prov(_chain(2), out, "provn")
    text = out.getvalue()
    assert text.count("\n  activity(") == 4 and text.count("\n  entity(") == 3
    assert 'ml:software="tool \\"x\\" 1.0"' in text  # quotes escaped
    out = io.StringIO()
    write_prov(_chain(2), out, "jsonld")
    graph = json.loads(out.getvalue())["@graph"]
    assert sum(r["@type"] == "prov:Activity" for r in graph) == 4
    assert sum(r["@type"] == "prov:Agent" for r in graph) == 1
