"""Every described frame of a multi-frame image is searchable (issue 21).

pydicom's ``emri_small.dcm`` (10 MR frames, 64 x 64) is registered with the real command,
and ``CT_small.dcm`` (one frame) beside it. A new user's case: one frame that is not the
middle one, exported to PNG the way a viewer does, must be found by ``similar``, which names
the entry and the frame. The frames of one entry are never duplicates of each other, and a
tampered per-frame row is named by ``verify``.

The ledger is built once per module; tests that change it work on a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file

from ..builders import attacker
from ..registration.support import ORIGIN, SUBMITTER, make_ledger

RunCli = Callable[..., Any]
MULTI, SINGLE = "emri_small.dcm", "CT_small.dcm"
EXPORTED = 2  # not the middle frame (10 // 2 = 5)


def _export(name: str, frame: int) -> Image.Image:
    """A viewer's "export frame as PNG": that frame stretched from its minimum to maximum."""
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    pixels = dcmread(path).pixel_array
    values = (pixels[frame] if pixels.ndim == 3 else pixels).astype(np.float64)
    values = (values - values.min()) / (values.max() - values.min()) * 255
    return Image.fromarray(np.rint(values).astype(np.uint8))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cli.main import run

    root = tmp_path_factory.mktemp("frames")
    images = root / "images"
    images.mkdir()
    for name in (MULTI, SINGLE):
        path = get_testdata_file(name)
        assert isinstance(path, str), name
        shutil.copyfile(path, images / name)
    exports = root / "exports"
    exports.mkdir()
    _export(MULTI, EXPORTED).save(exports / f"frame-{EXPORTED}.png")
    _export(SINGLE, 0).save(exports / "ct.png")
    directory = make_ledger(root / "ledger")
    with pytest.raises(SystemExit) as done:
        run(["register", str(images), "--source", "site-a", *ORIGIN, "--key", SUBMITTER,
             "--dataset", "mf@1", "--workers", "1", "--ledger", str(directory), "--json"])
    assert done.value.code in (0, None)
    with sqlite3.connect(directory / "ledger.db") as conn:  # fold the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return root


@pytest.fixture
def ledger(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built ledger (its config names its own database file)."""
    target = tmp_path / "ledger"
    shutil.copytree(built / "ledger", target)
    config = target / "config.json"
    settings = json.loads(config.read_text())
    settings["database_url"] = f"sqlite:///{target / 'ledger.db'}"
    config.write_text(json.dumps(settings))
    return target


def _entries(ledger: Path) -> dict[str, tuple[int, dict[str, Any]]]:
    """File name -> (entry index, signed image facts), read from the log's leaves."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    digests = {}
    for name in (MULTI, SINGLE):
        path = get_testdata_file(name)
        assert isinstance(path, str)
        digests[hashlib.sha256(Path(path).read_bytes()).hexdigest()] = name
    with sqlite3.connect(ledger / "ledger.db") as conn:
        rows = conn.execute("SELECT idx, leaf FROM log_leaves WHERE kind = 'image.registered'")
        for idx, leaf in rows:
            facts = json.loads(leaf)["envelope"]["entry"]["body"]["image"]
            out[digests[facts["file_sha256"]]] = (idx, facts)
    return out


def test_an_exported_non_middle_frame_is_found_naming_the_frame(
    built: Path, ledger: Path, cli: RunCli
) -> None:
    multi, _ = _entries(ledger)[MULTI]
    png = built / "exports" / f"frame-{EXPORTED}.png"
    result = cli("similar", png, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    rows = json.loads(result.stdout)
    found = [r for r in rows if r["index"] == multi]
    assert len(found) == 1, rows  # the image once, however many of its frames are close
    assert found[0]["frame"] == EXPORTED
    assert found[0]["kind"] == "near"
    text = cli("similar", png, ledger=ledger)
    assert f"entry {multi}, frame {EXPORTED}  near" in text.stdout


def test_the_entry_lists_the_other_frames_and_the_index_holds_a_row_per_frame(
    ledger: Path,
) -> None:
    multi, facts = _entries(ledger)[MULTI]
    listed = [g["frame"] for g in facts["frame_grids"]]
    assert listed == [f for f in range(10) if f != 5]  # every frame but the middle one
    with sqlite3.connect(ledger / "ledger.db") as conn:
        rows = conn.execute("SELECT frame FROM frame_keys WHERE idx = ?", (multi,)).fetchall()
        grids = {r[0] for r in conn.execute("SELECT grid_sha256 FROM descriptor_grids")}
    assert sorted(r[0] for r in rows) == list(range(10))
    assert {g["descriptor"]["grid_sha256"] for g in facts["frame_grids"]} <= grids


def test_a_single_frame_file_is_unchanged(built: Path, ledger: Path, cli: RunCli) -> None:
    single, facts = _entries(ledger)[SINGLE]
    assert "frame_grids" not in facts and "frame_tree" not in facts
    with sqlite3.connect(ledger / "ledger.db") as conn:
        rows = conn.execute("SELECT COUNT(*) FROM frame_keys WHERE idx = ?", (single,))
        assert rows.fetchone() == (0,)
    result = cli("similar", built / "exports" / "ct.png", "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["index"] for r in rows] == [single]
    assert "frame" not in rows[0]


def test_frames_of_one_entry_are_never_grouped(built: Path, ledger: Path, cli: RunCli) -> None:
    registered = cli("dups", "--dataset", "mf@1", "--json", ledger=ledger)
    assert registered.rc == 0, registered.stderr
    assert json.loads(registered.stdout)["groups"] == []
    folder = cli("dups", built / "images", "--workers", "1", "--json", ledger=ledger)
    assert folder.rc == 0, folder.stderr
    assert json.loads(folder.stdout)["groups"] == []


def test_dups_of_a_folder_names_the_frame_that_matched(
    built: Path, ledger: Path, cli: RunCli
) -> None:
    files = (built / "images" / MULTI, built / "exports" / f"frame-{EXPORTED}.png")
    result = cli("dups", *files, "--workers", "1", "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["groups"]) == 1, report
    assert f"{MULTI}, frame {EXPORTED}: " in json.dumps(report)


def test_a_tampered_frame_row_is_named_by_verify(ledger: Path, cli: RunCli) -> None:
    multi, _ = _entries(ledger)[MULTI]
    with attacker(ledger) as conn:
        changed = conn.execute(
            "UPDATE frame_keys SET dup_keys = zeroblob(48) WHERE idx = ? AND frame = 7", (multi,)
        )
        assert changed.rowcount == 1
    result = cli("verify", ledger=ledger)
    assert result.rc == 1
    assert f"frame_keys: entry {multi}, frame 7, column dup_keys: stored '0000" in result.stderr


@pytest.fixture(scope="module")
def together(built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A ledger where the cine and its exported frame were registered in one run (the
    export second): the finding is made in the run and recorded as an edge."""
    from cli.main import run

    root = tmp_path_factory.mktemp("together")
    folder = root / "images"
    folder.mkdir()
    shutil.copyfile(built / "images" / MULTI, folder / f"a-{MULTI}")
    shutil.copyfile(built / "exports" / f"frame-{EXPORTED}.png", folder / "b-export.png")
    directory = make_ledger(root / "ledger")
    out = root / "register.json"
    with pytest.raises(SystemExit) as done, out.open("w") as sink:
        with contextlib.redirect_stdout(sink):
            run(["register", str(folder), "--source", "site-a", *ORIGIN, "--key", SUBMITTER,
                 "--dataset", "both@1", "--workers", "1", "--ledger", str(directory), "--json"])
    assert done.value.code in (0, None)
    with sqlite3.connect(directory / "ledger.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return directory, json.loads(out.read_text())


def test_a_frame_found_in_the_same_run_is_recorded_and_verifies(
    together: tuple[Path, Any], cli: RunCli
) -> None:
    directory, report = together
    assert report["registered"] == 2
    with sqlite3.connect(directory / "ledger.db") as conn:
        edges = conn.execute("SELECT idx, match_idx, kind, detail FROM dup_edges").fetchall()
    assert len(edges) == 1
    later, earlier, kind, detail = edges[0]
    assert kind == "near" and later == earlier + 1
    assert detail.startswith(f"frame {EXPORTED}: ")
    assert cli("verify", ledger=directory).rc == 0  # re-verified against frame 2's grid
    groups = cli("dups", "--dataset", "both@1", "--json", ledger=directory)
    assert groups.rc == 0, groups.stderr
    assert f"entry {earlier}, frame {EXPORTED}: " in groups.stdout


def test_an_edge_naming_another_frame_fails_verify(
    together: tuple[Path, Any], tmp_path: Path, cli: RunCli
) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(together[0], directory)
    config = directory / "config.json"
    settings = json.loads(config.read_text())
    settings["database_url"] = f"sqlite:///{directory / 'ledger.db'}"
    config.write_text(json.dumps(settings))
    with attacker(directory) as conn:
        conn.execute("UPDATE dup_edges SET detail = replace(detail, ?, ?)",
                     (f"frame {EXPORTED}: ", "frame 8: "))  # fmt: skip
    result = cli("verify", ledger=directory)
    assert result.rc == 1
    assert "do not verify as near duplicates" in result.stderr
