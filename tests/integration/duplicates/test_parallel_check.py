"""The registration check verifies on the run's worker processes and finds what one process finds.

The same folders, registered with ``--workers 1`` (everything in this process) and
``--workers 2`` (the verifications of the check spread over the analysis workers and this
process), record the same findings: the same edges with the same distances and details,
the same groups, and the same duplicates in the summary, in the same order. Real images:
pydicom's test files and copies made with Pillow (see test_registration_checks).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..registration.support import RunCli, make_ledger, register_args
from .test_registration_checks import ORIGINALS, make_copies

ENCODINGS = ("MR_small_bigendian.dcm", "MR_small_RLE.dcm")  # exact copies of MR_small


def _pydicom(name: str) -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


def _run(cli: RunCli, ledger: Path, copies: Path, workers: int) -> dict[str, Any]:
    summaries = []
    for paths, source in (
        ([_pydicom(n) for n in ORIGINALS], "archive-a"),
        ([copies, *(_pydicom(n) for n in ENCODINGS)], "archive-b"),
    ):
        result = cli(*register_args(*paths, source=source, workers=workers), ledger=ledger)
        assert result.rc == 0, result.stderr
        summaries.append(result.json())
    with sqlite3.connect(ledger / "ledger.db") as db:
        edges = db.execute(
            "select idx, match_idx, kind, distance, detail from dup_edges order by idx, match_idx"
        ).fetchall()
        scans = db.execute("select idx, group_idx from dup_scans order by idx").fetchall()
    for summary in summaries:  # the time an earlier image was registered differs, nothing else
        for duplicate in summary["duplicates"]:
            for match in duplicate["matches"]:
                match.pop("registered", None)
    return {"summaries": summaries, "edges": edges, "scans": scans}


def test_the_check_on_two_workers_records_what_one_process_records(
    cli: RunCli, tmp_path: Path, pooled: list[int]
) -> None:
    copies = tmp_path / "copies"
    make_copies(copies)
    alone = _run(cli, make_ledger(tmp_path / "one"), copies, workers=1)
    assert not pooled
    spread = _run(cli, make_ledger(tmp_path / "two"), copies, workers=2)
    assert any(size >= 2 for size in pooled), pooled  # the pool had verifications to share

    assert spread == alone
    # and there was something to agree on: near copies of the originals and of each other
    kinds = {kind for _, _, kind, _, _ in alone["edges"]}
    assert kinds == {"exact", "near"}
    second = alone["summaries"][1]
    assert second["registered"] == len(ORIGINALS) * 4 + len(ENCODINGS)
    assert len(second["duplicates"]) >= len(ORIGINALS) * 4
    in_run = [m for d in second["duplicates"] for m in d["matches"] if "path" in m]
    assert in_run, "copies of one original also match each other within the run"
