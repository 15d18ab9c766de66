"""A chain A ~ B ~ C of verified pairs, where A and C are unrelated, never joins A and C.

Three synthetic pictures share one layout (chains.py): A and C each carry their own coarse
texture, B none. A grey-level map flattens a texture onto B's two levels, so A ~ B and
B ~ C verify; A and C differ in every block, so A ~ C does not. (The test checks these
three facts first, with the search and verification as shipped.) Under connected
components, A, B and C made one group, and a later copy of C was counted as coming from
A's repository.

Registered: x@1 (repo-x: A), w@1 (repo-w: A's pixels in other bytes), y@1 (repo-y: B), then
z@1 (repo-z: C and an unrelated photograph).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ledger.registration.pipeline import RegisterOptions
from ledger.service import Ledger
from ledger.service.register import register
from ledger.similarity.groups import pair_check
from ledger.similarity.sets import resolve
from ledger.store import reading
from ledger.store.duplicates import images

from ..registration.support import SUBMITTER, make_ledger
from .chains import chain, grey8

RunCli = Callable[..., Any]
SOURCES_OF_CAMERA_COPIES = (("source", "repo-x"), ("dataset", "x@1"), ("source", "repo-w"),
                            ("dataset", "w@1"))  # fmt: skip


def _pictures() -> dict[str, np.ndarray]:
    return {f"{name}.png": pixels for name, pixels in chain().items()}


def _save(pixels: np.ndarray, path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grey8(pixels)).save(path, **kwargs)
    return path


@dataclass(frozen=True)
class World:
    ledger: Path
    chain: Path  # a folder with a.png, b.png, c.png
    z: Path  # the folder registered as z@1
    entry: dict[str, int]  # registered file name -> its entry
    digests: dict[str, str]  # registered file's SHA-256 -> its name


def _register(ledger: Path, folder: Path, source: str, dataset: str) -> None:
    opened = Ledger.open(ledger)
    try:
        options = RegisterOptions(source=source, license="CC0-1.0", consent="waived",
                                  key=SUBMITTER, dataset=dataset, workers=1)  # fmt: skip
        assert register(opened, [folder], options).registered == len(list(folder.iterdir()))
    finally:
        opened.store.engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("chain")
    pictures = _pictures()
    chain = root / "chain"
    for name, pixels in pictures.items():
        _save(pixels, chain / name)
    x, w, y, z = (root / n for n in ("x", "w", "y", "z"))
    _save(pictures["a.png"], x / "a.png")
    marked = PngInfo()
    marked.add_text("Comment", "same pixels, other bytes")
    _save(pictures["a.png"], w / "a-again.png", pnginfo=marked)
    _save(pictures["b.png"], y / "b.png")
    _save(pictures["c.png"], z / "c.png")
    # Three earlier copies of the camera picture, one per repository: registering the
    # original in z@1 records edges to two of them (the check's budget), composition finds
    # the third by searching again.
    camera = np.asarray(skimage.data.camera(), dtype=float)
    _save(camera, x / "camera-q80.jpg", quality=80)
    small = Image.fromarray(grey8(camera)).resize((384, 384), Image.LANCZOS)
    _save(np.asarray(small, dtype=float), w / "camera-small.png")
    _save(255 * (camera / 255) ** 0.8, y / "camera-gamma.png")
    _save(camera, z / "camera.png")
    ledger = make_ledger(root / "ledger")
    for folder, source, dataset in ((x, "repo-x", "x@1"), (w, "repo-w", "w@1"),
                                    (y, "repo-y", "y@1"), (z, "repo-z", "z@1")):  # fmt: skip
        _register(ledger, folder, source, dataset)
    files = [x / "a.png", w / "a-again.png", y / "b.png", z / "c.png", z / "camera.png",
             x / "camera-q80.jpg", w / "camera-small.png", y / "camera-gamma.png"]  # fmt: skip
    digests = {hashlib.sha256(f.read_bytes()).hexdigest(): f.name for f in files}
    opened = Ledger.open(ledger)
    try:
        with reading(opened.store.engine) as conn:
            found = images(conn, range(opened.size()))
    finally:
        opened.store.engine.dispose()
    entry = {digests[i.file_sha256]: i.idx for i in found.values()}
    assert len(entry) == len(files)
    return World(ledger, chain, z, entry, digests)


def test_the_three_pictures_form_a_chain(world: World) -> None:
    """The premise: A ~ B and B ~ C are verified pairs, A ~ C is not."""
    ledger = Ledger.open(world.ledger)
    try:
        files = resolve(ledger, [str(world.chain)], workers=1)
    finally:
        ledger.store.engine.dispose()
    at = {Path(m.label).name: i for i, m in enumerate(files.members)}
    check = pair_check(files.members)
    assert check(at["a.png"], at["b.png"]) is not None
    assert check(at["b.png"], at["c.png"]) is not None
    assert check(at["a.png"], at["c.png"]) is None


def test_dups_splits_the_chain_and_lists_the_verified_pairs(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    page = tmp_path / "dups.html"
    result = cli("dups", world.chain, "--workers", "1", "--json", "--html", page,
                 ledger=world.ledger)  # fmt: skip
    assert result.rc == 0, result.stderr
    body = result.json()
    groups = [{Path(x).name for x in g} for g in body["groups"]]
    assert groups and all(not {"a.png", "c.png"} <= g for g in groups)
    assert groups == [{"a.png", "b.png"}] or groups == [{"b.png", "c.png"}]
    for members, detail in zip(body["groups"], body["details"], strict=True):
        assert detail["representative"] == members[0]
        pairs = {frozenset((x["a"], x["b"])) for x in detail["links"]}
        wanted = {frozenset((p, q)) for p in members for q in members if p != q}
        assert pairs == wanted  # every pair of members, each verified
        assert all(x["kind"] == "near" and "correlation" in x["detail"] for x in detail["links"])
    # The link that could not join is still shown, as a pair between groups.
    others = [{Path(x["a"]).name, Path(x["b"]).name} for x in body["other_pairs"]]
    assert others == [{"a.png", "b.png", "c.png"} - groups[0] | {"b.png"}]
    html = page.read_text(encoding="utf-8")
    assert "Verified pairs between groups" in html and "every two images" in html
    text = cli("dups", world.chain, "--workers", "1", ledger=world.ledger)
    assert "1 verified pair between groups" in text.stdout
    assert "[representative]" in text.stdout


@pytest.mark.parametrize("target", ["z@1", "folder"])
def test_composition_counts_direct_matches_and_lists_them(
    world: World, cli: RunCli, tmp_path: Path, target: str
) -> None:
    """C comes from repo-y (B verified against it), never from repo-x through B."""
    where = world.z if target == "folder" else target
    page = tmp_path / "composition.html"
    result = cli("composition", where, "--workers", "1", "--json", "--html", page,
                 ledger=world.ledger)  # fmt: skip
    assert result.rc == 0, result.stderr
    body = result.json()
    shares = {(s["kind"], s["name"]): s["share"] for s in body["sources"]}
    # C is from repo-y only (B, its direct match), the camera from all three repositories.
    want = {("source", "repo-y"): 1.0, ("dataset", "y@1"): 1.0}
    want |= {(kind, name): 0.5 for kind, name in SOURCES_OF_CAMERA_COPIES}
    if target == "folder":  # the registered folder is found too, itself (documented)
        want |= {("source", "repo-z"): 1.0, ("dataset", "z@1"): 1.0}
    assert shares == want
    assert body["unseen_share"] == 0.0 and body["unseen"] == []
    copies = {
        "repo-x": "camera-q80.jpg",
        "repo-w": "camera-small.png",
        "repo-y": "camera-gamma.png",
    }
    label = {"c": str(world.z / "c.png"), "camera": str(world.z / "camera.png")}
    for s in body["sources"]:
        name = s["name"] if s["kind"] == "source" else "repo-" + s["name"].removesuffix("@1")
        if name not in copies:
            continue
        entries = {m["entry"] for m in s["matched"]}
        wanted = {world.entry[copies[name]]} | (
            {world.entry["b.png"]} if name == "repo-y" else set()
        )
        assert entries == wanted, s["name"]  # never A, nor A's other-bytes copy, for C
        assert all(m["kind"] == "near" and len(m["digest"]) == 64 for m in s["matched"])
        if target == "folder":
            assert {m["image"] for m in s["matched"]} <= set(label.values())
    html = page.read_text(encoding="utf-8")
    assert "Matched images" in html and f"entry {world.entry['b.png']}" in html


def test_overlap_and_leakage_need_a_direct_match(world: World, cli: RunCli) -> None:
    """x@1 = {A, camera copy}, z@1 = {C, camera}: only the camera pair is shared."""
    apart = cli("overlap", "x@1", "z@1", "--json", ledger=world.ledger).json()
    assert (apart["exact"], apart["near"]) == (0, 1)
    assert apart["jaccard"] == 1 / 3  # clusters {A}, {C}, {camera copy, camera}
    near = cli("overlap", "y@1", "z@1", "--json", ledger=world.ledger).json()
    assert (near["exact"], near["near"]) == (0, 2)
    assert near["jaccard"] == 1.0  # {B, C} and {camera copy, camera}
    leaks = cli("leakage", "--train", "x@1", "--test", "z@1", "--json", ledger=world.ledger)
    assert leaks.rc == 0
    pairs = [(p["train"], p["test"]) for p in leaks.json()["pairs"]]
    name = world.digests
    assert [(name[a], name[b]) for a, b in pairs] == [("camera-q80.jpg", "camera.png")]


def test_similar_on_a_renamed_copy_lists_every_registration_of_its_pixels_first(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    renamed = tmp_path / "renamed.png"
    shutil.copyfile(world.ledger.parent / "x" / "a.png", renamed)
    result = cli("similar", renamed, "--json", ledger=world.ledger)
    assert result.rc == 0, result.stderr
    rows = result.json()
    exact = [r for r in rows if r["kind"] == "exact"]
    assert [(r["index"], r["same_file"]) for r in exact] == [
        (world.entry["a.png"], True),
        (world.entry["a-again.png"], False),
    ]
    assert rows[: len(exact)] == exact  # exact copies first
    near = [r["index"] for r in rows[len(exact) :]]
    assert world.entry["b.png"] in near and world.entry["a.png"] not in near
    text = cli("similar", renamed, ledger=world.ledger)
    assert "no registered image" not in text.stdout
    assert "this very file" in text.stdout
