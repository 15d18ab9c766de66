"""Tampering with the projection tables of a real SQLite ledger, as someone holding the file.

The log is left intact; only what is made from it changes: the projections (``keys``,
``images``) and the duplicate findings (``dup_edges``, ``dup_scans``, and the
``descriptor_grids`` side table). ``medledger verify`` must exit 1 naming table, entry
and column; ``show`` prints the signed leaf's values and exits 1; the dataset commands
refuse; ``rebuild`` recreates every table byte for byte.

The ledger is built once per module with the real console script from synthesised
images (no PHI): entries 0-2 keys (admin, uploader, auditor), 3 a.png, 4 an exact copy
of it (same pixels, other bytes), 5 b.png, 6 a mirrored b (a near duplicate), all by
site-a in dataset ds@1, then 7 the auditor key revoked. Each test works on a copy.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from ledger.service import Ledger

from .builders import attacker, database
from .registration.support import ORIGIN, SUBMITTER, make_ledger

RunCli = Callable[..., Any]
PROJECTION_AND_FINDINGS = ("keys", "images", "dup_scans", "dup_edges", "descriptor_grids")


def _picture(seed: int) -> Image.Image:
    """A textured 256 x 256 grey picture: smooth blobs plus stripes, unlike other seeds."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(16, 16)).astype(np.uint8)
    big = np.asarray(Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC))
    yy, xx = np.mgrid[0:256, 0:256]
    stripes = ((xx // (8 + seed % 5) + yy // (11 + seed % 7)) % 2) * 40
    return Image.fromarray(np.clip(big.astype(int) + stripes, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cli.main import run

    root = tmp_path_factory.mktemp("projections")
    images = root / "images"
    images.mkdir()
    a, b = _picture(1), _picture(2)
    a.save(images / "3-a.png")
    a.save(images / "4-a-copy.png", compress_level=1)  # same pixels, other bytes
    b.save(images / "5-b.png")
    ImageOps.mirror(b).save(images / "6-b-mirror.png")
    directory = make_ledger(root / "ledger")
    with pytest.raises(SystemExit) as done:
        run(["register", str(images), "--source", "site-a", *ORIGIN, "--key", SUBMITTER,
             "--dataset", "ds@1", "--workers", "1", "--ledger", str(directory), "--json"])
    assert done.value.code in (0, None)
    ledger = Ledger.open(directory)
    try:
        ledger.revoke_key("auditor")
    finally:
        ledger.store.engine.dispose()
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


@pytest.fixture
def pictures(built: Path) -> Path:
    return built / "images"


def dump(directory: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(database(directory)) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()  # noqa: S608
                for t in PROJECTION_AND_FINDINGS}


def tampered(directory: Path, *statements: str) -> None:
    with attacker(directory) as conn:
        for statement in statements:
            assert conn.execute(statement).rowcount >= 1, statement


# --- verify: every projection column shown to users -------------------------------------

CASES = [
    ("UPDATE images SET source = 'evil-site' WHERE idx = 5",
     "images: entry 5, column source: stored 'evil-site', the log says 'site-a'"),
    ("UPDATE images SET license = 'CC0-1.0' WHERE idx = 3",
     "images: entry 3, column license: stored 'CC0-1.0', the log says 'CC-BY-4.0'"),
    ("UPDATE images SET consent = 'waived' WHERE idx = 4",
     "images: entry 4, column consent: stored 'waived', the log says 'consented'"),
    ("UPDATE images SET dataset = 'other@2' WHERE idx = 6",
     "images: entry 6, column dataset: stored 'other@2', the log says 'ds@1'"),
    ("UPDATE images SET dataset = NULL WHERE idx = 6",
     "images: entry 6, column dataset: stored None, the log says 'ds@1'"),
    ("UPDATE images SET format = 'dicom' WHERE idx = 3",
     "images: entry 3, column format: stored 'dicom', the log says 'png'"),
    ("UPDATE images SET pixel_sha256 = (SELECT pixel_sha256 FROM images WHERE idx = 5) "
     "WHERE idx = 3", "images: entry 3, column pixel_sha256: stored '"),
    ("UPDATE images SET file_sha256 = substr('0000' || file_sha256, 1, 64) WHERE idx = 6",
     "images: entry 6, column file_sha256: stored '0000"),
    ("UPDATE keys SET role = 'admin' WHERE name = 'uploader'",
     "keys: entry 1, column role: stored 'admin', the log says 'submitter'"),
    ("UPDATE keys SET revoked_idx = NULL WHERE name = 'auditor'",
     "keys: entry 7, column revoked_idx: stored None, the log says 7"),
    ("UPDATE keys SET revoked_idx = 4 WHERE name = 'uploader'",
     "keys: entry 1, column revoked_idx: stored 4, the log says None"),
    ("DELETE FROM images WHERE idx = 4",
     "images: entry 4: the row idx=4 the log implies is missing"),
    ("INSERT INTO images SELECT 99, substr('1111' || file_sha256, 1, 64), pixel_sha256, "
     "'evil-site', dataset, license, consent, format, registered, dup_keys, grid_sha256 "
     "FROM images WHERE idx = 3", "images: stored row idx=99 has no entry behind it"),
]


@pytest.mark.parametrize(("statement", "named"), CASES,
                         ids=[c[1].split(":")[0] + "-" + str(i) for i, c in enumerate(CASES)])
def test_verify_names_table_entry_and_column(
    ledger: Path, cli: RunCli, statement: str, named: str
) -> None:
    assert cli("verify", ledger=ledger).rc == 0
    tampered(ledger, statement)
    result = cli("verify", ledger=ledger)
    assert result.rc == 1
    assert result.error_line().startswith(f"medledger: {named}")
    reported = cli("verify", "--json", ledger=ledger).json()
    assert reported["ok"] is False
    entry = re.match(r"\w+: entry (\d+)", named)
    assert reported["index"] == (int(entry.group(1)) if entry else None)


FINDINGS = [
    ("INSERT INTO dup_edges VALUES (5, 3, 'near', 3, 'forged')",
     "dup_edges: entry 5, edge to 3: kind near, but the two images' grids do not verify"),
    ("UPDATE dup_edges SET kind = 'exact' WHERE idx = 6",
     "dup_edges: entry 6, edge to 5: kind exact, but the signed pixel digests differ"),
    ("UPDATE dup_scans SET group_idx = 3 WHERE idx = 5",
     "dup_scans: entry 5, column group_idx: stored 3, its edges imply 5"),
    ("INSERT INTO dup_edges VALUES (6, 99, 'exact', 0, 'same pixel digest')",
     "dup_edges: entry 6, edge to 99: no image is registered at 99"),
    ("UPDATE descriptor_grids SET grid = zeroblob(1024) "
     "WHERE grid_sha256 = (SELECT grid_sha256 FROM images WHERE idx = 6)",
     "descriptor_grids: the grid stored under"),
]


@pytest.mark.parametrize(("statement", "named"), FINDINGS,
                         ids=[c[1].split(":")[0] + "-" + str(i) for i, c in enumerate(FINDINGS)])
def test_verify_rejects_unsupported_findings(
    ledger: Path, cli: RunCli, statement: str, named: str
) -> None:
    tampered(ledger, statement)
    result = cli("verify", ledger=ledger)
    assert result.rc == 1
    assert result.error_line().startswith(f"medledger: {named}")


def test_a_purged_grid_is_a_warning_not_tamper(ledger: Path, cli: RunCli) -> None:
    tampered(ledger, "DELETE FROM descriptor_grids "
                     "WHERE grid_sha256 = (SELECT grid_sha256 FROM images WHERE idx = 5)")
    result = cli("verify", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.stderr.strip() == ("warning: dup_edges: entry 6, edge to 5: the grid of "
                                     "entry 5 was purged; the near edge is not re-verified")
    assert "projection rows" in result.stdout
    reported = cli("verify", "--json", ledger=ledger).json()
    assert reported["ok"] is True
    assert reported["warnings"] == [result.stderr.strip().removeprefix("warning: ")]


def test_intact_ledger_counts_what_it_compared(ledger: Path, cli: RunCli) -> None:
    reported = cli("verify", "--json", ledger=ledger).json()
    # three keys, four images, and each image's image_consent row
    assert reported["projection_rows"] == 3 + 4 + 4
    assert reported["findings"] == 2 + 4  # two edges, four scan rows


# --- show -----------------------------------------------------------------------------------


def test_show_prints_the_signed_values_and_exits_1(
    ledger: Path, cli: RunCli, pictures: Path
) -> None:
    tampered(ledger, "UPDATE images SET source = 'evil-site', license = 'CC0-1.0', "
                     "consent = 'waived', dataset = 'evil@1' WHERE idx = 5")
    result = cli("show", pictures / "5-b.png", ledger=ledger)
    assert result.rc == 1
    assert "evil" not in result.stdout and "CC0-1.0" not in result.stdout
    assert "site-a / ds@1, CC-BY-4.0, consent consented" in result.stdout
    assert "differs from this signed entry in source, dataset, license, consent" in result.stdout
    assert result.error_line().startswith("medledger: images: entry 5: the table differs")
    shown = cli("show", pictures / "5-b.png", "--json", ledger=ledger).json()
    (reg,) = shown["registrations"]
    assert (reg["source"], reg["license"], reg["dataset"]) == ("site-a", "CC-BY-4.0", "ds@1")
    assert reg["projection_differs"] == ["source", "dataset", "license", "consent"]


def test_show_hashes_the_leaf_it_prints(ledger: Path, cli: RunCli, pictures: Path) -> None:
    """A stored leaf_hash column is not evidence: the proof is checked with the leaf's hash."""
    tampered(ledger, "UPDATE log_leaves SET leaf_hash = zeroblob(32) WHERE idx = 5")
    shown = cli("show", pictures / "5-b.png", "--json", ledger=ledger).json()
    (reg,) = shown["registrations"]
    assert reg["inclusion"] == "valid"
    assert reg["leaf_hash"] != "00" * 32


def test_show_of_an_intact_ledger_passes(ledger: Path, cli: RunCli, pictures: Path) -> None:
    result = cli("show", pictures / "6-b-mirror.png", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert "differs" not in result.stdout


# --- the commands that show images from the projection ---------------------------------------


@pytest.mark.parametrize("args", [("dups", "--dataset", "ds@1"),
                                  ("similar", "IMAGE")])
def test_dataset_commands_refuse_a_tampered_row(
    ledger: Path, cli: RunCli, pictures: Path, args: tuple[str, ...]
) -> None:
    argv = [str(pictures / "5-b.png") if a == "IMAGE" else a for a in args]
    assert cli(*argv, ledger=ledger).rc == 0
    tampered(ledger, "UPDATE images SET source = 'evil-site' WHERE idx = 5")
    result = cli(*argv, ledger=ledger)
    assert result.rc == 1
    assert "evil-site" not in result.stdout
    assert result.error_line().startswith(
        "medledger: images: entry 5, column source: stored 'evil-site' differs")


# --- rebuild ------------------------------------------------------------------------------


def test_rebuild_recreates_every_table_byte_for_byte(ledger: Path, cli: RunCli) -> None:
    before = dump(ledger)
    assert before["images"] and before["keys"] and before["dup_edges"]
    tampered(ledger, "DELETE FROM images", "DELETE FROM keys", "DELETE FROM dup_edges",
             "DELETE FROM dup_scans")
    assert cli("verify", ledger=ledger).rc == 1
    result = cli("rebuild", "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json() == {
        "entries": 8, "rows": {"keys": 3, "images": 4, "sources": 0, "policies": 0,
                               "image_consent": 4, "consent_events": 0, "erased_subjects": 0,
                               "derivations": 0, "image_uids": 0,
                               "dataset_versions": 0, "access_grants": 0, "frame_keys": 0},
        "rescanned": 4,
    }
    assert dump(ledger) == before
    assert cli("verify", ledger=ledger).rc == 0


def test_rebuild_repairs_tampered_rows(ledger: Path, cli: RunCli) -> None:
    before = dump(ledger)
    tampered(ledger, "UPDATE images SET source = 'evil-site'",
             "INSERT INTO dup_edges VALUES (5, 3, 'near', 3, 'forged')")
    assert cli("rebuild", ledger=ledger).rc == 0
    assert dump(ledger) == before


def test_an_interrupted_rebuild_changes_nothing(ledger: Path) -> None:
    """All or nothing: a crash half way through the entries leaves every table as it was."""
    from ledger.model.registry import DEFAULT_PROJECTIONS

    before = dump(ledger)

    def crashing(index: int, entry: dict[str, Any]) -> Any:
        if index >= 5:
            raise RuntimeError("crash half way")
        return DEFAULT_PROJECTIONS[entry["kind"]](index, entry)

    # the ledger's own projections, crashing from index 5 on (no global is patched)
    opened = Ledger.open(ledger, projections={kind: crashing for kind in DEFAULT_PROJECTIONS})
    try:
        with pytest.raises(RuntimeError, match="crash half way"):
            opened.rebuild()
    finally:
        opened.store.engine.dispose()
    assert dump(ledger) == before


# --- the tables keyed by entry index, compared by the worker processes -----------------------
# With two workers, each compares its chunk's ``images`` rows with the stored index range
# itself (``ledger.audit.rangecheck``); chunks of 3 entries make entries 0-2, 3-5 and a
# last partial chunk 6-7. Whatever is tampered, the message must be the one-process audit's.

WORKER_CASES = [
    ("UPDATE images SET source = 'evil-site' WHERE idx = 4",
     "images: entry 4, column source: stored 'evil-site', the log says 'site-a'"),
    ("UPDATE images SET license = 'CC0-1.0' WHERE idx = 6",  # in the last, partial chunk
     "images: entry 6, column license: stored 'CC0-1.0', the log says 'CC-BY-4.0'"),
    ("DELETE FROM images WHERE idx = 3",
     "images: entry 3: the row idx=3 the log implies is missing"),
    ("INSERT INTO images SELECT 7, substr('1111' || file_sha256, 1, 64), pixel_sha256, "
     "source, dataset, license, consent, format, registered, dup_keys, grid_sha256 "
     "FROM images WHERE idx = 6",  # entry 7 (a key revocation) makes no image
     "images: stored row idx=7 has no entry behind it"),
]


def _verified(directory: Path, workers: int) -> tuple[str, int | None]:
    from ledger.errors import VerificationError

    opened = Ledger.open(directory)
    try:
        opened.verify(workers=workers)
    except VerificationError as exc:
        return exc.diagnostics(), exc.index
    finally:
        opened.store.engine.dispose()
    return "", None


@pytest.mark.parametrize(("statement", "named"), WORKER_CASES,
                         ids=["changed", "last-chunk", "deleted", "no-entry"])
def test_workers_name_a_tampered_row_of_their_chunk(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, statement: str, named: str
) -> None:
    from ledger.audit import replay

    monkeypatch.setattr(replay, "CHUNK", 3)
    tampered(ledger, statement)
    text, index = _verified(ledger, workers=2)
    assert text.startswith(named)
    entry = re.match(r"\w+: entry (\d+)", named)
    assert index == (int(entry.group(1)) if entry else None)
    assert (text, index) == _verified(ledger, workers=1)


def test_workers_compare_every_row_of_an_intact_ledger(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.audit import replay
    from ledger.projections import projection_audit
    from ledger.store import reading

    monkeypatch.setattr(replay, "CHUNK", 3)
    file = database(ledger).resolve()
    opened = Ledger.open(ledger)
    try:
        with reading(opened.store.engine) as conn, projection_audit(conn=conn) as audit:
            assert audit.plan.database is not None
            assert Path(audit.plan.database).resolve() == file
            assert "images" in audit.plan.direct  # the workers compare it, not this process
        assert opened.verify(workers=2).projection_rows == 3 + 4 + 4
    finally:
        opened.store.engine.dispose()
