"""File discovery visits each real folder and file once, whatever the symlinks.

The maze: folder ``level-i`` holds two links, ``a`` and ``b``, both to
``level-(i+1)``; 22 levels make 2**21 paths to the last folder, but 22 folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledger.registration.walk import Visited, iter_files

LEVELS = 22


def _maze(root: Path, levels: int = LEVELS) -> Path:
    store = root / "store"
    for level in range(levels):
        (store / f"level-{level}").mkdir(parents=True)
    for level in range(levels - 1):
        here, below = store / f"level-{level}", store / f"level-{level + 1}"
        for link in ("a", "b"):
            os.symlink(below, here / link)
    (store / f"level-{levels - 1}" / "image.png").write_bytes(b"not decoded here")
    return store / "level-0"


def test_symlink_maze_visits_each_folder_once(tmp_path: Path) -> None:
    visited = Visited()
    found = list(iter_files([_maze(tmp_path)], visited))
    assert [item.problem for item in found] == [None]
    assert found[0].path.name == "image.png"
    assert found[0].path.relative_to(tmp_path / "store" / "level-0").parts == (
        *("a",) * (LEVELS - 1),
        "image.png",
    )
    assert len(visited.directories) == LEVELS
    assert len(visited.files) == 1


def test_a_file_reached_by_two_paths_is_found_once(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.png").write_bytes(b"x")
    os.symlink(tmp_path / "data" / "x.png", tmp_path / "data" / "y.png")
    os.link(tmp_path / "data" / "x.png", tmp_path / "data" / "z.png")
    os.symlink(tmp_path / "data", tmp_path / "again")
    found = list(iter_files([tmp_path / "data", tmp_path / "again", tmp_path / "data" / "z.png"]))
    assert [item.path for item in found] == [tmp_path / "data" / "x.png"]


def test_a_link_to_a_folder_above_is_still_a_loop(tmp_path: Path) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    os.symlink("..", tmp_path / "tree" / "sub" / "up")
    visited = Visited()
    found = list(iter_files([tmp_path / "tree"], visited))
    assert [(item.path.name, item.problem) for item in found] == [
        ("up", "symlink loop (links back to a folder above it)")
    ]
    assert len(visited.directories) == 2


def test_distinct_files_with_equal_content_are_all_found(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"same bytes")
    assert [item.path.name for item in iter_files([tmp_path])] == ["a.png", "b.png"]
