"""dataset verify hashes the copy while it checks the lock: a tampered lock still fails with
exit 1 naming what failed, prints no file verdict, and stops the hashing (here of a sparse
TiB file that would take many minutes to hash); worker processes and threads classify a copy
the same way."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from ledger.crypto.keys import SigningKey
from ledger.crypto.note import NoteSigner
from ledger.datasets.hashahead import THREAD_PREFIX
from ledger.errors import VerificationError
from ledger.service import datasetcopy
from ledger.service.datasetcopy import verify_copy

from ..builders import RunCli
from .conftest import Pinned

HUGE = 1 << 40


@pytest.fixture
def huge_copy(pinned: Pinned, tmp_path: Path) -> Path:
    """The pinned copy and a sparse TiB file, first in path order."""
    copy = Path(shutil.copytree(pinned.data, tmp_path / "copy"))
    with open(copy / "aaa-huge.bin", "wb") as handle:
        handle.truncate(HUGE)
    return copy


def _tampered(pinned: Pinned, tmp_path: Path) -> Path:
    text = pinned.lock.read_text()
    at = text.index('"file_sha256":"') + len('"file_sha256":"')
    changed = "0" if text[at] != "0" else "1"
    lock = tmp_path / "tampered.lock"
    lock.write_text(text[:at] + changed + text[at + 1 :])
    return lock


def _workers_alive(folder: Path) -> list[str]:
    """Hashing worker processes (python -m ledger.datasets.hashprocs) given ``folder``."""
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ledger.datasets.hashprocs" in argv and os.fsencode(folder) in argv:
            alive.append(pid)
    return alive


@pytest.fixture(params=["threads", "processes"])
def hasher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "processes":  # the tests' locks are small: force the large-lock path
        monkeypatch.setattr(datasetcopy, "PROCESSES_FROM_LOCK_BYTES", 0)
    return str(request.param)


@pytest.mark.parametrize("damage", ["a member's digest", "the wrong key"])
def test_a_bad_lock_stops_the_hashing_under_way(pinned: Pinned, huge_copy: Path, tmp_path: Path,
                                                hasher: str, damage: str) -> None:
    if damage == "the wrong key":
        lock, key = pinned.lock, NoteSigner("medledger.local/x", SigningKey.generate()).verifier_key
        expected = "not the key given"
    else:
        lock, key, expected = _tampered(pinned, tmp_path), str(pinned.vkey), "members do not match"
    with pytest.raises(VerificationError, match=expected) as caught:
        verify_copy(lock, huge_copy, pubkeys=[key], workers=2)
    assert caught.value.exit_code == 1
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
    assert _workers_alive(huge_copy) == []


def test_the_cli_prints_no_verdict_from_a_tampered_lock(pinned: Pinned, huge_copy: Path,
                                                        tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("dataset", "verify", _tampered(pinned, tmp_path), huge_copy,
                     "--pubkey", pinned.vkey)
    assert result.rc == 1
    assert result.stdout == ""
    assert "tampered.lock: lock members do not match the signed version" in result.error_line()


def test_processes_and_threads_classify_alike(pinned: Pinned, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    copy = Path(shutil.copytree(pinned.data, tmp_path / "copy"))
    (copy / "img2.png").unlink()
    os.rename(copy / "img1.png", copy / "scans" / "moved.png")
    (copy / "notes.txt").write_text("not a member")
    (copy / "img0.png").write_bytes(b"not a png any more")
    threads = verify_copy(pinned.lock, copy, pubkeys=[str(pinned.vkey)], workers=2).to_json()
    monkeypatch.setattr(datasetcopy, "PROCESSES_FROM_LOCK_BYTES", 0)
    processes = verify_copy(pinned.lock, copy, pubkeys=[str(pinned.vkey)], workers=2).to_json()
    assert processes == threads
    shown = {f.get("path") or f["pinned_path"]: f["status"] for f in threads["files"]}
    assert shown == {"img0.png": "modified", "img2.png": "missing",
                     "scans/moved.png": "moved", "notes.txt": "extra",
                     "scans/mr.dcm": "ok", "scans/photo.jpg": "ok"}  # fmt: skip
