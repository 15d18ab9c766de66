"""Two registrations at the same moment: the batch appended second finds the pairs.

Registration checks a batch before it takes the sequencer's lock, then appends it under
the lock. Here another registration (another ``Ledger`` on the same SQLite file, as a
second curator's process would be) appends a copy of the picture in between, at a fixed
point: just before this run's append. Real images: pydicom's test files and 8-bit PNG
exports of them made here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import ledger.service.register as register_module
from ledger.registration.pipeline import RegisterOptions, RegisterSummary
from ledger.service import Ledger
from ledger.service.register import register

from ..registration.support import SUBMITTER, RunCli, make_ledger, register_args, start
from .exports import eight_bit

ORIGINALS = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "US1_UNCR.dcm")


def _pydicom(name: str) -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


def _export(name: str, folder: Path) -> Path:
    """The PNG a careless re-host makes of a DICOM file: 8-bit, min-max scaled."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name.removesuffix(".dcm") + "-export.png")
    Image.fromarray(eight_bit(_pydicom(name))).save(path)
    return path


def _rings(folder: Path) -> Path:
    """A picture unlike any pydicom test image."""
    y, x = np.mgrid[0:96, 0:128]
    path = folder / "rings.png"
    rings = 127 + 120 * np.sin(np.hypot(x - 40, y - 70) / 5.0)
    Image.fromarray(np.asarray(rings, dtype=np.uint8)).save(path)
    return path


def _options(source: str, *, reject: bool = False) -> RegisterOptions:
    return RegisterOptions(
        source=source,
        license="CC-BY-4.0",
        consent="consented",
        key=SUBMITTER,
        workers=1,
        reject_duplicates=reject,
    )


def _run(directory: Path, paths: list[Path], options: RegisterOptions) -> RegisterSummary:
    opened = Ledger.open(directory)
    try:
        return register(opened, paths, options)
    finally:
        opened.store.engine.dispose()


def another(
    ledger: Path, paths: list[Path], into: list[RegisterSummary], *, source: str = "archive-a"
) -> Callable[[], None]:
    """Another curator's registration, run when called; its summary goes to ``into``."""

    def run() -> None:
        into.append(_run(ledger, paths, _options(source)))

    return run


@contextmanager
def meanwhile(monkeypatch: pytest.MonkeyPatch, *others: Callable[[], Any]) -> Iterator[list[int]]:
    """Before each append of the run under test (after its check), the next of ``others``.

    Yields the sizes of that run's append calls (a rolled-back attempt counts too)."""
    real = register_module.append
    pending = list(others)
    calls: list[int] = []
    inside = False

    def append(store: Any, envelopes: Any, **kwargs: Any) -> Any:
        nonlocal inside
        if inside:  # the other registration's own append
            return real(store, envelopes, **kwargs)
        calls.append(len(envelopes))
        if pending:
            inside = True
            try:
                pending.pop(0)()
            finally:
                inside = False
        return real(store, envelopes, **kwargs)

    monkeypatch.setattr(register_module, "append", append)
    yield calls
    assert not pending, "the run appended fewer times than expected"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return make_ledger(tmp_path / "ledger")


def _db(ledger: Path) -> sqlite3.Connection:
    return sqlite3.connect(ledger / "ledger.db")


def _rows(ledger: Path, query: str, *params: object) -> list[tuple[Any, ...]]:
    db = _db(ledger)
    try:
        return db.execute(query, params).fetchall()
    finally:
        db.close()


def _only(summary: RegisterSummary) -> int:
    assert summary.registered == 1 and summary.first_index is not None, summary
    return summary.first_index


def test_a_copy_appended_between_check_and_append_is_found(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export("CT_small.dcm", tmp_path / "rehost")
    other: list[RegisterSummary] = []
    both = [_pydicom("CT_small.dcm"), _pydicom("JPEG2000.dcm")]

    with meanwhile(monkeypatch, another(ledger, both, other)) as calls:
        summary = _run(ledger, [export, _pydicom("MR_small.dcm")], _options("rehost-b"))

    assert calls == [2]
    (b,) = other
    assert b.registered == 2 and b.duplicates == []  # it could not see this run's batch
    ct = b.first_index
    assert ct is not None
    assert summary.registered == 2 and summary.first_index == ct + 2
    (dup,) = summary.duplicates  # the export, not MR_small
    assert Path(dup["path"]).name == export.name
    (match,) = dup["matches"]
    assert match["index"] == ct and match["kind"] == "near"
    assert match["source"] == "archive-a" and match["consent"] == "consented"
    assert match["digest"] == hashlib.sha256(_pydicom("CT_small.dcm").read_bytes()).hexdigest()
    export_idx = dup["index"]
    (mr_idx,) = {ct + 2, ct + 3} - {export_idx}
    edges = _rows(ledger, "select idx, match_idx, kind from dup_edges")
    assert edges == [(export_idx, ct, "near")]
    groups = dict(_rows(ledger, "select idx, group_idx from dup_scans"))
    assert groups == {ct: ct, ct + 1: ct + 1, export_idx: ct, mr_idx: mr_idx}


def test_an_exact_copy_appended_meanwhile_is_found_and_grouped(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MR_small in another transfer syntax: the same canonical pixels.
    other: list[RegisterSummary] = []
    with meanwhile(
        monkeypatch,
        another(ledger, [_pydicom("MR_small.dcm")], other),
    ):
        summary = _run(ledger, [_pydicom("MR_small_RLE.dcm")], _options("rehost-b"))

    first, later = _only(other[0]), _only(summary)
    assert later == first + 1
    (dup,) = summary.duplicates
    assert [(m["kind"], m["index"], m["detail"]) for m in dup["matches"]] == [
        ("exact", first, "same pixel digest")
    ]
    assert _rows(ledger, "select idx, match_idx, kind from dup_edges") == [(later, first, "exact")]
    assert dict(_rows(ledger, "select idx, group_idx from dup_scans")) == {
        first: first,
        later: first,
    }


def test_a_third_copy_joins_the_group_of_the_concurrent_pair(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other: list[RegisterSummary] = []
    with meanwhile(
        monkeypatch,
        another(ledger, [_pydicom("CT_small.dcm")], other),
    ):
        pair = _run(ledger, [_export("CT_small.dcm", tmp_path / "b")], _options("rehost-b"))
    monkeypatch.undo()
    small = tmp_path / "c" / "ct-half.png"
    small.parent.mkdir()
    image = Image.fromarray(eight_bit(_pydicom("CT_small.dcm")))
    image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS).save(small)
    third = _run(ledger, [small], _options("rehost-c"))

    original, copy, last = _only(other[0]), _only(pair), _only(third)
    assert {m["index"] for m in third.duplicates[0]["matches"]} <= {original, copy}
    groups = dict(_rows(ledger, "select idx, group_idx from dup_scans"))
    assert groups == {original: original, copy: original, last: original}


def test_reject_duplicates_refuses_a_copy_appended_meanwhile_and_writes_nothing_of_it(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export("CT_small.dcm", tmp_path / "rehost")
    fresh = _rings(tmp_path / "rehost")
    other: list[RegisterSummary] = []
    with meanwhile(
        monkeypatch,
        another(ledger, [_pydicom("CT_small.dcm")], other),
    ) as calls:
        summary = _run(ledger, [export, fresh], _options("rehost-b", reject=True))

    assert calls == [2, 1]  # the first attempt was rolled back, the copy dropped
    ct = _only(other[0])
    assert _only(summary) == ct + 1
    assert summary.duplicates == []
    (refusal,) = summary.refused
    assert refusal["path"] == str(export)
    assert refusal["reason"].startswith(f"near duplicate of entry {ct} (source archive-a): ")
    export_sha = hashlib.sha256(export.read_bytes()).hexdigest()
    assert _rows(ledger, "select idx from images where file_sha256 = ?", export_sha) == []
    assert _rows(ledger, "select idx from images order by idx") == [(ct,), (ct + 1,)]
    assert _rows(ledger, "select count(*) from log_leaves") == [(ct + 2,)]
    assert _rows(ledger, "select * from dup_edges") == []
    assert dict(_rows(ledger, "select idx, group_idx from dup_scans")) == {ct: ct, ct + 1: ct + 1}
    # no grid of the refused copy either
    grids = {g for (g,) in _rows(ledger, "select grid_sha256 from descriptor_grids")}
    assert grids == {g for (g,) in _rows(ledger, "select grid_sha256 from images")}


def test_reject_duplicates_keeps_refusing_until_a_batch_goes_in(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of CT_small arrives before the first attempt, one of MR_small before the
    # second: every turn refuses at least one file, so the run ends, with the new picture in.
    exports = [_export(n, tmp_path / "rehost") for n in ("CT_small.dcm", "MR_small.dcm")]
    fresh = _rings(tmp_path / "rehost")
    others = [_pydicom("CT_small.dcm"), _pydicom("MR_small.dcm")]
    done: list[RegisterSummary] = []

    with meanwhile(monkeypatch, *(another(ledger, [p], done) for p in others)) as calls:
        summary = _run(ledger, [*exports, fresh], _options("rehost-b", reject=True))

    assert calls == [3, 2, 1]
    ct, mr = (_only(s) for s in done)
    assert [r["path"] for r in summary.refused] == [str(p) for p in exports]
    assert f"of entry {ct} " in summary.refused[0]["reason"]
    assert f"of entry {mr} " in summary.refused[1]["reason"]
    assert _only(summary) == mr + 1
    assert _rows(ledger, "select idx from images order by idx") == [(ct,), (mr,), (mr + 1,)]


def test_images_appended_meanwhile_that_are_no_copies_change_nothing(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "rehost"
    folder.mkdir()
    with meanwhile(
        monkeypatch,
        another(ledger, [_pydicom(n) for n in ORIGINALS[1:]], []),
    ):
        summary = _run(
            ledger, [_export("CT_small.dcm", folder), _rings(folder)], _options("b", reject=True)
        )
    assert summary.registered == 2 and summary.refused == [] and summary.duplicates == []
    assert _rows(ledger, "select * from dup_edges") == []


@pytest.mark.slow
def test_two_register_processes_at_once_report_every_pair(
    ledger: Path, tmp_path: Path, cli: RunCli
) -> None:
    # Whichever order their checks and appends take, the union of what the two runs
    # report, and the recorded edges, hold each original with its export.
    originals, exports = tmp_path / "originals", tmp_path / "exports"
    originals.mkdir()
    for name in ORIGINALS:
        (originals / name).write_bytes(_pydicom(name).read_bytes())
        _export(name, exports)
    logs = tmp_path / "logs"
    runs = [
        start(register_args(originals, source="archive-a"), ledger, logs),
        start(register_args(exports, source="rehost-b"), ledger, logs),
    ]
    try:
        codes = [run.wait(timeout=300) for run in runs]
    finally:
        for run in runs:
            run.end_group()
    assert codes == [0, 0], [run.stderr for run in runs]
    summaries = [json.loads(run.stdout) for run in runs]
    assert [s["registered"] for s in summaries] == [len(ORIGINALS)] * 2

    by_sha = {
        row[1]: row[0] for row in _rows(ledger, "select idx, file_sha256, source from images")
    }

    def idx(path: Path) -> int:
        return int(by_sha[hashlib.sha256(path.read_bytes()).hexdigest()])

    pairs = {
        frozenset((idx(originals / n), idx(exports / (n.removesuffix(".dcm") + "-export.png"))))
        for n in ORIGINALS
    }
    reported = {
        frozenset((d["index"], m["index"]))
        for s in summaries
        for d in s["duplicates"]
        for m in d["matches"]
        if "index" in m
    }
    edges = {frozenset((i, j)) for i, j in _rows(ledger, "select idx, match_idx from dup_edges")}
    assert pairs <= reported, (pairs, reported)
    assert pairs <= edges, (pairs, edges)
    assert cli("verify", "--json", ledger=ledger).rc == 0
