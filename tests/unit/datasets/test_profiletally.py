"""The profile's counting (``Tally``) against a slow, obviously correct count of the same bodies.

The reference reads each member as the docs say: source; modality, manufacturer (or EXIF
Make), model (or EXIF Model) and body part from the metadata; sex and age band from the row
that opened the entry's demographics commitment, else from the metadata.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from ledger.datasets.profile import SMALL_CELL
from ledger.datasets.profiletally import Tally, profile

KEYS = {"modality": ["Modality"], "manufacturer": ["Manufacturer", "Make"],
        "model": ["ManufacturerModelName", "Model"], "body_part": ["BodyPartExamined"],
        "sex": ["PatientSex"], "age_band": ["PatientAgeBand"]}  # fmt: skip
VALUES: list[Any] = ["MR", " CT ", "", "   ", None, 7, "Acme", "acme", "F", "M", "40-49", "x"]


def _body(rng: random.Random, n: int) -> dict[str, Any]:
    metadata = {key: value for keys in KEYS.values() for key in keys
                if (value := rng.choice(VALUES)) is not None and rng.random() < 0.5}
    image: dict[str, Any] = {"metadata": metadata if rng.random() < 0.9 else None}
    if rng.random() < 0.6:
        image["pseudonyms"] = {"Demographics": f"sha256:{n % 40:064x}"}
    return {"source": rng.choice(["site-a", "site-b", 3]), "image": image}


def _reference(bodies: list[dict[str, Any]], opened: dict[str, dict[str, Any]]
               ) -> dict[str, tuple[Counter[str], int]]:  # fmt: skip
    """attribute -> (counts, members not saying), one member and one attribute at a time."""
    out: dict[str, tuple[Counter[str], int]] = {"source": (Counter(str(b["source"])
                                                                   for b in bodies), 0)}
    for name, keys in KEYS.items():
        counts: Counter[str] = Counter()
        for body in bodies:
            metadata = body["image"].get("metadata") or {}
            where = metadata
            commitment = (body["image"].get("pseudonyms") or {}).get("Demographics")
            if name in ("sex", "age_band") and commitment in opened:
                where = opened[commitment]
            stated = [v.strip() for v in (where.get(k) for k in keys)
                      if isinstance(v, str) and v.strip()]
            if stated:
                counts[stated[0]] += 1
        out[name] = (counts, len(bodies) - sum(counts.values()))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_counts_equal_a_member_by_member_count(seed: int) -> None:
    rng = random.Random(seed)
    bodies = [_body(rng, n) for n in range(300)]
    # rows opened for half the commitments, some with blank or absent values
    opened = {f"sha256:{n:064x}": {k: v for k, v in (("PatientSex", rng.choice(["F", "M", " "])),
                                                    ("PatientAgeBand", rng.choice(["50-59", ""])))
                                   if rng.random() < 0.8}
              for n in range(0, 40, 2)}  # fmt: skip
    found = profile("t@1", bodies, opened)
    expected = _reference(bodies, opened)
    assert found.members == len(bodies)
    for attribute in found.attributes:
        counts, missing = expected[attribute.name]
        assert attribute.counts() == dict(counts), attribute.name
        assert attribute.missing == missing, attribute.name


def test_small_cells_are_hidden_and_cells_sorted_by_count_then_value() -> None:
    bodies = ([{"source": "b", "image": {"metadata": {"Modality": "CT"}}}] * SMALL_CELL
              + [{"source": "a", "image": {"metadata": {"Modality": "MR"}}}] * SMALL_CELL
              + [{"source": "c", "image": {}}])  # fmt: skip
    shown = profile("t@1", bodies).to_json()
    source = shown["attributes"][0]
    assert [v["value"] for v in source["values"]] == ["a", "b", "c"]
    assert source["values"][2] == {"value": "c", "count": f"<{SMALL_CELL}", "share": None}
    modality = shown["attributes"][1]
    assert modality["missing_share"] == round(1 / 11, 4)


def test_an_unopened_commitment_counts_as_its_metadata_says_and_only_once() -> None:
    tally = Tally()
    tally.add({"source": "s", "image": {"metadata": {"PatientSex": "F"},
                                        "pseudonyms": {"Demographics": "sha256:aa"}}})
    tally.add({"source": "s", "image": {"metadata": {},
                                        "pseudonyms": {"Demographics": "sha256:bb"}}})
    assert tally.commitments() == {"sha256:aa", "sha256:bb"}
    found = tally.profile("t@1", [("sha256:bb", "M", "60-69"), ("sha256:other", "F", "1")])
    assert found.attribute("sex").counts() == {"F": 1, "M": 1}
    assert found.attribute("age_band").counts() == {"60-69": 1}
    again = tally.profile("t@1", [("sha256:bb", "M", "60-69")])  # settled: nothing twice
    assert again.to_json() == found.to_json()


@pytest.mark.parametrize("split", [0, 1, 150, 299])
def test_tallies_of_two_shares_merge_into_the_tally_of_all(split: int) -> None:
    rng = random.Random(split)
    bodies = [_body(rng, n) for n in range(300)]
    opened = [(f"sha256:{n:064x}", "F" if n % 3 else "M", f"{n % 5}0-{n % 5}9")
              for n in range(0, 40, 3)]
    whole = profile("t@1", bodies, {c: {"PatientSex": s, "PatientAgeBand": a}
                                    for c, s, a in opened})
    first, second = Tally(), Tally()
    for body in bodies[:split]:
        first.add(body)
    for body in bodies[split:]:
        second.add(body)
    first.settle(opened)
    second.settle(opened)
    first.merge(second)
    assert first.result("t@1").to_json() == whole.to_json()
