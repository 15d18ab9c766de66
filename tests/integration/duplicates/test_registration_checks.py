"""Duplicate checks at registration, `similar`, the catch-up scan and the index cache.

Real public images (pydicom's test files) and copies made here with Pillow: an 8-bit PNG
export, a half-size resize, a JPEG re-encode and a mirrored copy. Distinct images must not
match each other.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ledger.service import Ledger
from ledger.similarity.catalog import CACHE_NAME
from ledger.similarity.sets import prepare
from ledger.similarity.verification import DECISION_VERSION

from ..registration.support import (
    RunCli,
    count_images,
    image_entries,
    log_size,
    make_ledger,
    register_args,
)
from .exports import eight_bit

ORIGINALS = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "US1_UNCR.dcm")


def _pydicom(name: str) -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


def make_copies(folder: Path) -> dict[str, list[Path]]:
    """Per original: its PNG export, a half-size PNG, a JPEG q=40, a mirrored PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    copies: dict[str, list[Path]] = {}
    for name in ORIGINALS:
        image = Image.fromarray(eight_bit(_pydicom(name)))
        stem = name.removesuffix(".dcm")
        made = [folder / f"{stem}-export.png", folder / f"{stem}-half.png"]
        image.save(made[0])
        image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS).save(made[1])
        made.append(folder / f"{stem}-q40.jpg")
        image.save(made[2], quality=40)
        made.append(folder / f"{stem}-mirror.png")
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(made[3])
        copies[name] = made
    return copies


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return make_ledger(tmp_path / "ledger")


def _register(
    cli: RunCli, ledger: Path, *paths: Path, source: str, extra: tuple[str, ...] = ()
) -> Any:
    result = cli(*register_args(*paths, source=source, extra=extra), ledger=ledger)
    assert result.rc in (0, 2), result.stderr
    return result


def test_copies_from_another_repository_are_reported_with_their_origin(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    originals = [_pydicom(n) for n in ORIGINALS]
    first = _register(cli, ledger, *originals, source="archive-a", extra=("--dataset", "a@1"))
    assert first.rc == 0 and first.json()["duplicates"] == []
    index_of = {e["image"]["file_sha256"]: e["index"] for e in image_entries(cli, ledger)}
    copies = make_copies(tmp_path / "copies")

    summary = _register(cli, ledger, tmp_path / "copies", source="rehost-b").json()

    assert summary["registered"] == 4 * len(ORIGINALS)
    reported = {Path(d["path"]).name: d for d in summary["duplicates"]}
    for name, made in copies.items():
        original = index_of[_sha256(_pydicom(name))]
        for copy in made:
            matches = reported[copy.name]["matches"]
            to_original = [m for m in matches if m.get("index") == original]
            assert to_original, (copy.name, matches)
            assert to_original[0]["source"] == "archive-a"
            assert to_original[0]["dataset"] == "a@1"
            assert to_original[0]["kind"] == "near"
            assert to_original[0]["consent"] == "consented"
            # never a match to another original
            others = {m["index"] for m in matches if "index" in m} - {original}
            assert not others & set(index_of.values()), (copy.name, matches)


def test_reject_duplicates_refuses_copies_and_writes_nothing_for_them(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    _register(cli, ledger, *[_pydicom(n) for n in ORIGINALS], source="archive-a")
    make_copies(tmp_path / "copies")
    fresh = tmp_path / "copies" / "new.png"
    Image.fromarray(_gradient_rings()).save(fresh)
    size = log_size(ledger)

    result = _register(
        cli, ledger, tmp_path / "copies", source="rehost-b", extra=("--reject-duplicates",)
    )

    summary = result.json()
    assert result.rc == 0
    assert summary["registered"] == 1  # only the new picture
    assert len(summary["refused"]) == 4 * len(ORIGINALS)
    assert all("duplicate of entry" in r["reason"] for r in summary["refused"])
    assert log_size(ledger) == size + 1


def test_reject_duplicates_with_only_copies_exits_2_with_one_line(
    run_cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    original = _pydicom("CT_small.dcm")
    assert run_cli(*register_args(original, json=False), ledger=ledger).rc == 0
    folder = tmp_path / "one"
    folder.mkdir()
    Image.fromarray(eight_bit(original)).save(folder / "ct.png")
    size = log_size(ledger)

    result = run_cli(
        *register_args(folder, source="rehost-b", json=False, extra=("--reject-duplicates",)),
        ledger=ledger,
    )

    assert result.rc == 2
    assert result.stderr.strip().count("\n") == 0
    assert "ct.png" in result.stderr and "near duplicate of entry" in result.stderr
    assert log_size(ledger) == size


def test_duplicates_within_one_run_are_found_and_recorded(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    # MR_small in four encodings: one picture, so one group of exact copies.
    names = ["MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm", "CT_small.dcm"]
    summary = _register(cli, ledger, *[_pydicom(n) for n in names], source="archive-a").json()
    assert summary["registered"] == 4
    dup_paths = {Path(d["path"]).name for d in summary["duplicates"]}
    assert dup_paths == {"MR_small_bigendian.dcm", "MR_small_RLE.dcm"}
    with sqlite3.connect(ledger / "ledger.db") as db:
        scans = dict(db.execute("select idx, group_idx from dup_scans"))
        edges = db.execute("select idx, match_idx, kind from dup_edges").fetchall()
    assert len(scans) == 4
    assert len(set(scans.values())) == 2  # MR_small's group and CT_small's own
    assert sorted(scans.values()).count(min(scans)) == 3  # the first MR_small names it
    assert all(kind == "exact" for _, _, kind in edges) and len(edges) >= 2


def test_the_grid_stays_out_of_the_log_and_its_digest_is_signed(cli: RunCli, ledger: Path) -> None:
    _register(cli, ledger, _pydicom("CT_small.dcm"), source="archive-a")
    entry = image_entries(cli, ledger)[0]
    reference = entry["image"]["fingerprints"]["dup-grid"]
    assert set(reference) == {"alg", "v", "keys", "grid_sha256"}
    with sqlite3.connect(ledger / "ledger.db") as db:
        (grid,) = db.execute(
            "select grid from descriptor_grids where grid_sha256 = ?", (reference["grid_sha256"],)
        ).fetchone()
        leaves = b"".join(row[0] for row in db.execute("select leaf from log_leaves"))
    assert hashlib.sha256(grid).hexdigest() == reference["grid_sha256"]
    assert base64.b64encode(grid) not in leaves and len(grid) == 1024


def test_similar_finds_the_original_from_a_copy_and_from_a_digest(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    _register(cli, ledger, *[_pydicom(n) for n in ORIGINALS], source="archive-a")
    copies = make_copies(tmp_path / "copies")
    ct = _sha256(_pydicom("CT_small.dcm"))

    result = cli("similar", copies["CT_small.dcm"][2], "--json", ledger=ledger)  # the JPEG

    assert result.rc == 0, result.stderr
    rows = result.json()
    assert [r["digest"] for r in rows] == [ct]
    assert set(rows[0]) >= {"digest", "distance", "source", "registered", "consent"}
    assert rows[0]["source"] == "archive-a" and isinstance(rows[0]["distance"], int)

    _register(cli, ledger, tmp_path / "copies", source="rehost-b")
    by_digest = cli("similar", ct, "--json", "--top", "3", ledger=ledger).json()
    exact = [r for r in by_digest if r["kind"] == "exact"]
    assert by_digest[: len(exact)] == exact  # every registration of its pixels first,
    assert [r["digest"] for r in exact if r["same_file"]] == [ct]  # itself included
    near = by_digest[len(exact) :]
    assert len(near) == 3  # --top bounds the near matches
    assert {r["source"] for r in near} == {"rehost-b"}
    assert ct not in {r["digest"] for r in near}  # never itself as a near match


def test_similar_bad_input_is_one_line_exit_2(cli: RunCli, ledger: Path, tmp_path: Path) -> None:
    (tmp_path / "not-an-image.png").write_bytes(b"hello")
    for target in ("nonsense", "0" * 64, str(tmp_path / "not-an-image.png")):
        result = cli("similar", target, ledger=ledger)
        assert result.rc == 2, (target, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_images_submitted_without_a_check_are_scanned_in_order(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    # Analyse through a scratch ledger, then submit the same bodies here with
    # Ledger.submit, which runs no duplicate check, and restore the grids beside them.
    scratch = make_ledger(tmp_path / "scratch")
    copies = make_copies(tmp_path / "copies")
    files = [_pydicom("CT_small.dcm"), copies["CT_small.dcm"][0], _pydicom("MR_small.dcm")]
    for source, path in zip(("s1", "s2", "s3"), files, strict=True):
        _register(cli, scratch, path, source=source)
    bodies = [{k: v for k, v in e.items() if k not in ("index", "actor")}
              for e in image_entries(cli, scratch)]  # fmt: skip
    with sqlite3.connect(scratch / "ledger.db") as db:
        grids = db.execute("select grid_sha256, grid from descriptor_grids").fetchall()
    target = Ledger.init(tmp_path / "target")
    try:
        target.add_key("loader", "submitter")
        key = target.signing_key("loader")
        first = target.submit([target.sign("image.registered", b, key=key) for b in bodies])[
            0
        ].index
        with sqlite3.connect(tmp_path / "target" / "ledger.db") as db:
            db.executemany("insert into descriptor_grids values (?, ?)", grids)
            assert db.execute("select count(*) from dup_scans").fetchone() == (0,)
        prepare(target)
        with sqlite3.connect(tmp_path / "target" / "ledger.db") as db:
            scans = db.execute("select idx, group_idx from dup_scans order by idx").fetchall()
            edges = db.execute("select idx, match_idx, kind from dup_edges").fetchall()
    finally:
        target.store.engine.dispose()
    assert scans == [(first, first), (first + 1, first), (first + 2, first + 2)]
    assert edges == [(first + 1, first, "near")]


def test_the_index_cache_is_used_then_rebuilt_when_it_belongs_to_another_log(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    _register(cli, ledger, _pydicom("CT_small.dcm"), source="archive-a")
    cache = ledger / "similarity" / CACHE_NAME
    assert cache.is_file()
    header = cache.read_bytes()
    assert b'"size"' in header

    other = make_ledger(tmp_path / "other")
    _register(cli, other, _pydicom("MR_small.dcm"), source="archive-b")
    (other / "similarity" / CACHE_NAME).write_bytes(header)  # a foreign cache
    rows = cli("similar", _pydicom("CT_small.dcm"), "--json", ledger=other).json()
    assert rows == []  # CT_small is not in `other`, whatever the foreign cache says
    mr = cli("similar", _pydicom("MR_small_RLE.dcm"), "--json", ledger=other).json()
    assert [r["kind"] for r in mr] == ["exact"]

    (other / "similarity" / CACHE_NAME).write_bytes(b"garbage")  # damaged: rebuilt
    assert cli("similar", _pydicom("MR_small_RLE.dcm"), "--json", ledger=other).json() == mr


def test_a_registration_rerun_keeps_one_scan_per_image(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    make_copies(tmp_path / "copies")
    _register(cli, ledger, tmp_path / "copies", source="archive-a")
    again = _register(cli, ledger, tmp_path / "copies", source="archive-a").json()
    assert again["registered"] == 0 and again["duplicates"] == []
    with sqlite3.connect(ledger / "ledger.db") as db:
        (scans,) = db.execute("select count(*) from dup_scans").fetchone()
    assert scans == count_images(ledger) == 4 * len(ORIGINALS)


def _entries(cli: RunCli, ledger: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = cli("log", "entries", "--json", ledger=ledger).json()
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _gradient_rings() -> np.ndarray:
    y, x = np.mgrid[0:96, 0:128]
    return np.asarray(127 + 120 * np.sin(np.hypot(x - 40, y - 70) / 5.0), dtype=np.uint8)


def test_a_dataset_name_with_underscores_finds_every_version(cli: RunCli, ledger: Path) -> None:
    for version, name in (("1", "CT_small.dcm"), ("2", "MR_small.dcm")):
        _register(cli, ledger, _pydicom(name), source="a", extra=("--dataset", f"my_set@{version}"))
    _register(cli, ledger, _pydicom("JPEG2000.dcm"), source="a", extra=("--dataset", "myXset@1"))
    result = cli("dups", "--dataset", "my_set", "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["set"]["images"] == 2  # not myXset: "_" is no wildcard


def test_a_deferred_check_is_done_by_scan_with_the_same_result(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    copies = make_copies(tmp_path / "copies")
    _register(cli, ledger, _pydicom("CT_small.dcm"), source="a")
    deferred = _register(
        cli, ledger, copies["CT_small.dcm"][0], source="b", extra=("--defer-duplicate-check",)
    ).json()
    assert deferred["registered"] == 1 and deferred["duplicates"] == []
    with sqlite3.connect(ledger / "ledger.db") as db:
        assert db.execute("select count(*) from dup_scans").fetchone() == (1,)
    scanned = cli("scan", "--json", ledger=ledger)
    assert scanned.rc == 0 and scanned.json() == {"checked": 1}
    with sqlite3.connect(ledger / "ledger.db") as db:
        kinds = db.execute("select kind from dup_edges").fetchall()
    assert kinds == [("near",)]
    both = _register(
        cli,
        ledger,
        copies["CT_small.dcm"][1],
        source="c",
        extra=("--defer-duplicate-check", "--reject-duplicates"),
    )
    assert both.rc == 2


def test_findings_of_an_older_decision_are_checked_again(
    cli: RunCli, ledger: Path, tmp_path: Path
) -> None:
    copies = make_copies(tmp_path / "copies")
    deferred = ("--defer-duplicate-check",)
    _register(cli, ledger, *(_pydicom(n) for n in ORIGINALS), source="a", extra=deferred)
    made = [p for paths in copies.values() for p in paths]
    _register(cli, ledger, *made, source="b", extra=deferred)

    def findings() -> tuple[list[Any], list[Any]]:
        with sqlite3.connect(ledger / "ledger.db") as db:
            edges = db.execute("select * from dup_edges order by idx, match_idx").fetchall()
            scans = db.execute("select * from dup_scans order by idx").fetchall()
        return edges, scans

    images = len(ORIGINALS) * 5
    assert cli("scan", "--json", ledger=ledger).json() == {"checked": images}
    scanned = findings()
    assert scanned[0] and cli("scan", "--json", ledger=ledger).json() == {"checked": 0}
    # A ledger from before the decision was recorded (version 1), with a finding its
    # decision missed: the scan forgets every finding and checks every image again.
    with sqlite3.connect(ledger / "ledger.db") as db:
        recorded = db.execute("select value from meta where key = 'dup_decision'").fetchall()
        assert recorded == [(str(DECISION_VERSION),)]
        db.execute("delete from meta where key = 'dup_decision'")
        db.execute("delete from dup_edges where idx = (select max(idx) from dup_edges)")
    assert cli("scan", "--json", ledger=ledger).json() == {"checked": images}
    assert findings() == scanned
    assert cli("scan", "--json", ledger=ledger).json() == {"checked": 0}
