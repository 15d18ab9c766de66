"""Background hashing of a copy (threads and worker processes): the digests hashlib gives, in
path order; errors in path order and only from ``result``; a stop ends the hashing of even a
very large file at once."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from ledger.datasets.hashahead import THREAD_PREFIX, HashAhead
from ledger.datasets.hashprocs import HashProcesses
from ledger.errors import InputError

HASHERS = [HashAhead, HashProcesses]
HUGE = 1 << 40  # a sparse TiB: hashing it to the end would take many minutes


def _folder(root: Path) -> dict[str, bytes]:
    """Files of several sizes (empty, one block, several 1 MiB blocks) in nested folders."""
    contents = {"a.txt": b"", "b/c.bin": os.urandom(5000), "b/d/e.bin": os.urandom(3 << 20)}
    contents |= {f"many/{n:03d}.bin": os.urandom(n) for n in range(300)}
    contents["name with é and space"] = b"x"
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return contents


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("hashahead")
    return root, _folder(root)


@pytest.mark.parametrize("hasher", HASHERS)
@pytest.mark.parametrize("workers", [1, 3])
def test_digests_are_hashlibs_in_path_order(copy: tuple[Path, dict[str, bytes]],
                                            hasher: type[HashAhead], workers: int) -> None:
    root, contents = copy
    skipped = root / "many" / "007.bin"
    with hasher(root, skip=frozenset({skipped}), workers=workers) as hashing:
        found = hashing.result()
    expected = {rel: (len(data), hashlib.sha256(data).hexdigest())
                for rel, data in sorted(contents.items()) if rel != "many/007.bin"}
    assert found == expected
    assert list(found) == list(expected)


@pytest.mark.parametrize("hasher", HASHERS)
def test_the_first_unreadable_file_in_path_order_is_named(tmp_path: Path,
                                                          hasher: type[HashAhead]) -> None:
    for n in range(100):
        (tmp_path / f"f{n:03d}").write_bytes(b"%d" % n)
    for name in ("f050.bad", "f020.bad", "f090.bad"):  # reading /proc/self/mem at 0: EIO
        (tmp_path / name).symlink_to("/proc/self/mem")
    with hasher(tmp_path, workers=2) as hashing, \
            pytest.raises(InputError, match=r"f020\.bad: cannot read") as caught:
        hashing.result()
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("hasher", HASHERS)
def test_a_missing_folder_is_an_error_of_result_only(tmp_path: Path,
                                                    hasher: type[HashAhead]) -> None:
    with hasher(tmp_path / "nowhere", workers=2) as hashing:  # starting raises nothing
        with pytest.raises(InputError, match="nowhere: not a folder"):
            hashing.result()


@pytest.mark.parametrize("hasher", HASHERS)
def test_a_stop_ends_the_hashing_of_a_huge_file(tmp_path: Path, hasher: type[HashAhead]) -> None:
    with open(tmp_path / "huge.bin", "wb") as handle:
        handle.truncate(HUGE)
    (tmp_path / "small.bin").write_bytes(b"small")
    hashing = hasher(tmp_path, workers=2)
    hashing.stop()  # returns only when every thread or process has ended
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
    if isinstance(hashing, HashProcesses):
        assert all(p.returncode is not None for p in hashing._procs)


def test_a_worker_that_dies_sends_the_copy_back_to_threads(
    copy: tuple[Path, dict[str, bytes]],
) -> None:
    root, contents = copy
    with HashProcesses(root, workers=2) as hashing:
        hashing._procs[1].kill()
        found = hashing.result()
    assert found == {rel: (len(data), hashlib.sha256(data).hexdigest())
                     for rel, data in sorted(contents.items())}  # fmt: skip


def test_workers_never_import_from_the_working_directory(
    copy: tuple[Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy checked from inside itself may hold a ``ledger`` package of its own."""
    planted = tmp_path / "ledger"
    (planted / "datasets").mkdir(parents=True)
    marker = tmp_path / "planted code ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (planted / "datasets" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    root, contents = copy
    with HashProcesses(root, workers=2) as hashing:
        assert len(hashing.result()) == len(contents)
        assert all(p.returncode == 0 for p in hashing._procs)  # the workers hashed, not threads
    assert not marker.exists()
