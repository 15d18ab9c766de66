"""The worker refuses a file whose image.registered entry the sequencer would refuse.

``entry_problem`` checks an analysis's facts with the kind's own model and against
the entry size limit, leaving room for the longest origin the model allows; the
refusal names the field and the error type, never the value.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import ledger.registration.workers as workers
from ledger.errors import InputError
from ledger.imaging.analyse import Analysis, analyse
from ledger.imaging.decode import Decoded
from ledger.imaging.limits import DecodeLimits
from ledger.model.canonical import canonical_json
from ledger.model.entry import MAX_ENVELOPE_BYTES, parse_envelope, utc_now
from ledger.model.origin import CONSENT_STATUSES
from ledger.model.registry import validate_body
from ledger.registration.workers import (
    ENTRY_RESERVE,
    MAX_FACTS_BYTES,
    WorkerSettings,
    analyse_paths,
    entry_problem,
    init_worker,
)

SECRET = b"medledger-test-secret-0123456789"
SETTINGS = WorkerSettings(SECRET, DecodeLimits(), keep_demographics=False,
                          require_deidentified=False)  # fmt: skip
MARKER = "HDRVALUE"  # stands for a header value: never in a refusal


def png(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(12, 12), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def facts(tmp_path: Path) -> dict[str, Any]:
    return analyse(png(tmp_path / "a.png", 1), secret=SECRET, limits=DecodeLimits()).to_json()


def longest_origin_body(image: dict[str, Any]) -> dict[str, Any]:
    """The image.registered body with every origin field as long as the model allows."""
    return {
        "source": "S" * 128,  # NAME_PATTERN: 1 + 127 characters
        "dataset": "D" * 64 + "@999999",  # DATASET_PATTERN: 64 + "@" + 6 digits
        "license": "LicenseRef-" + "L" * 189,  # max_length 200
        "consent": max(CONSENT_STATUSES, key=len),
        "image": image,
    }


def envelope(body: dict[str, Any]) -> dict[str, Any]:
    entry = {"v": 2, "log": "b" * 64, "kind": "image.registered", "time": utc_now(),
             "actor": "a" * 64, "body": body}  # fmt: skip
    return {"entry": entry, "sig": "A" * 86 + "=="}


def padded(facts: dict[str, Any], size: int) -> dict[str, Any]:
    """``facts`` with a metadata text grown so that they encode to ``size`` bytes."""
    out = {**facts, "metadata": {**facts["metadata"], "Software": ""}}
    out["metadata"]["Software"] = "x" * (size - len(canonical_json(out)))
    assert len(canonical_json(out)) == size
    return out


def test_analysed_facts_pass(facts: dict[str, Any]) -> None:
    assert entry_problem(facts) is None


def test_the_reserve_holds_the_longest_origin(facts: dict[str, Any]) -> None:
    """Facts of exactly MAX_FACTS_BYTES pass, and the sequencer's own checks accept their
    entry under the longest origin; one byte more is refused here."""
    full = padded(facts, MAX_FACTS_BYTES)
    assert entry_problem(full) is None
    body = longest_origin_body(full)
    wrapped = envelope(body)
    parse_envelope(wrapped)  # the size limit
    validate_body("image.registered", body)
    overhead = len(canonical_json(wrapped)) - MAX_FACTS_BYTES
    assert overhead <= ENTRY_RESERVE, (overhead, ENTRY_RESERVE)

    over = padded(facts, MAX_FACTS_BYTES + 1)
    assert entry_problem(over) == (
        f"entry would be too large: the image's facts take {MAX_FACTS_BYTES + 1} bytes of the "
        f"{MAX_FACTS_BYTES} an entry has room for (largest: image.metadata.Software)"
    )
    with pytest.raises(InputError, match="the limit is"):  # what the batch would have hit
        parse_envelope(envelope(longest_origin_body(padded(facts, MAX_ENVELOPE_BYTES))))


BREAKS = {
    # name: (change to the facts, the refusal)
    "pixel-form-too-long": (
        {"pixel_form": MARKER * 9}, "image.pixel_form: string_too_long"),
    "unknown-format": ({"format": MARKER}, "image.format: literal_error"),
    "digest-not-hex": ({"file_sha256": MARKER}, "image.file_sha256: string_pattern_mismatch"),
    "metadata-not-an-object": ({"metadata": MARKER}, "image.metadata: dict_type"),
    "bad-frame-digest": (
        {"frame_sha256": [MARKER]}, "image.frame_sha256.0: string_pattern_mismatch"),
    "bad-dup-grid-keys": (
        {"fingerprints": {"dup-grid": {"alg": "dup-grid", "v": 1, "keys": [MARKER] * 6,
                                       "grid_sha256": "0" * 64}}},
        "image.fingerprints.keys.0: string_pattern_mismatch"),
    "frames-disagree": (
        {"frame_tree": {"alg": "rfc9162-sha256", "count": 3, "root": "0" * 64}},
        "image: value_error"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BREAKS))
def test_a_model_violation_names_the_field_not_the_value(facts: dict[str, Any], name: str) -> None:
    change, where = BREAKS[name]
    broken = facts | change
    with pytest.raises(InputError):  # the sequencer would refuse it too
        validate_body("image.registered", longest_origin_body(broken))
    assert entry_problem(broken) == f"entry would be invalid: {where}"


def test_a_value_json_cannot_encode(facts: dict[str, Any]) -> None:
    broken = facts | {"metadata": {**facts["metadata"], "KVP": float("nan")}}
    assert entry_problem(broken) == (
        "entry would be invalid: a value cannot be encoded as canonical JSON"
    )


def test_too_large_names_the_attribute_not_its_values(facts: dict[str, Any]) -> None:
    values = [f"{MARKER}{i:08d}" for i in range(4000)]
    problem = entry_problem(facts | {"metadata": {**facts["metadata"], "ImageType": values}})
    assert problem is not None
    assert problem.startswith("entry would be too large: ") and MARKER not in problem
    assert problem.endswith("(largest: image.metadata.ImageType)"), problem


def test_only_the_broken_file_of_a_task_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [png(tmp_path / f"{i}.png", i) for i in range(3)]
    real = workers.analyse_decoded  # the worker decodes once, then analyses and screens

    def analyse_breaking_one(decoded: Decoded, **options: Any) -> Analysis:
        analysis = real(decoded, **options)
        if decoded.name == str(paths[1]):
            return dataclasses.replace(analysis, pixel_form=MARKER * 9)
        return analysis

    monkeypatch.setattr(workers, "analyse_decoded", analyse_breaking_one)
    init_worker(SETTINGS, in_pool=False)
    done = analyse_paths([str(p) for p in paths])
    assert [a.path for a in done] == [str(p) for p in paths]
    assert [a.facts is not None for a in done] == [True, False, True]
    assert done[1].refusal == "entry would be invalid: image.pixel_form: string_too_long"
    assert done[1].grid is None
    assert all(a.refusal is None and a.grid is not None for a in (done[0], done[2]))
