"""Two ``medledger register`` processes at once, on overlapping folders of the same ledger.

Both check which files the log already holds before they append, so they race:
whichever commits a file first registers it, the other must report it as
already known. In the end each file is in the log once per source, and the log
verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from .data import make_pngs
from .support import RunCli, image_entries, register_args, start

IMAGES = 700  # files 0-449 in folder A, 250-699 in folder B (hard links: the same bytes)
SPLIT_A, SPLIT_B = 450, 250

pytestmark = pytest.mark.slow


def folders(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    paths = make_pngs(tmp_path / "all", IMAGES)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for path in paths[:SPLIT_A]:
        os.link(path, a / path.name)
    for path in paths[SPLIT_B:]:
        os.link(path, b / path.name)
    return a, b, {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_overlapping_runs_register_each_file_once_per_source(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    a, b, digests = folders(tmp_path)
    logs = tmp_path / "logs"
    runs = [
        start(register_args(a, workers=1), reg_ledger, logs),
        start(register_args(b, workers=1), reg_ledger, logs),
        start(register_args(b, source="site-b", workers=1), reg_ledger, logs),
    ]
    try:
        codes = [run.wait(timeout=600) for run in runs]
    finally:
        for run in runs:
            run.end_group()
    assert codes == [0, 0, 0], [run.stderr for run in runs]
    summaries = [json.loads(run.stdout) for run in runs]
    for summary, size in zip(summaries, (SPLIT_A, IMAGES - SPLIT_B, IMAGES - SPLIT_B),
                             strict=True):  # fmt: skip
        assert summary["registered"] + summary["already_known"] == size, summary
        assert summary["refused"] == []
    assert summaries[0]["registered"] + summaries[1]["registered"] == IMAGES
    assert summaries[2]["registered"] == IMAGES - SPLIT_B

    images = image_entries(cli, reg_ledger)
    per_source: dict[str, list[str]] = {}
    for entry in images:
        per_source.setdefault(entry["source"], []).append(entry["image"]["file_sha256"])
    assert sorted(per_source["site-a"]) == sorted(digests.values())
    wanted_b = {digests[name] for name in sorted(digests)[SPLIT_B:]}
    assert sorted(per_source["site-b"]) == sorted(wanted_b)
    verified = cli("verify", "--json", ledger=reg_ledger)
    assert verified.rc == 0, verified.stderr
