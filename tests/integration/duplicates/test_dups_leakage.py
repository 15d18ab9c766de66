"""``medledger dups`` and ``medledger leakage`` on real public images and copies made here.

Originals: scikit-image's sample pictures (camera, coins, moon, astronaut) and
pydicom's test files (MR_small.dcm and its RLE-compressed twin, which has the
same pixels; CT_small.dcm). Copies are made with Pillow the way people re-host
images: a PNG export of a DICOM file, a resize, a JPEG at quality 40, a
horizontal flip. Every copy must be grouped with its original (and leak across a
split), and different pictures never.

Registered datasets are made once per module with the real console script; the
checks themselves run in process (the ``cli`` fixture) with one decoding process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageOps
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_voi_lut

from ledger.service import Ledger
from ledger.similarity.groups import pair_check
from ledger.similarity.sets import resolve

from ..builders import snapshot

W1 = ("--workers", "1")
RunCli = Callable[..., Any]  # the cli / run_cli fixtures of tests/conftest.py
CliResult = Any
COPIES = {  # the original, and the copies made of it
    "camera.png": ("camera_small.png", "camera_q40.jpg", "camera_flip.png"),
    "MR_small.dcm": ("MR_small_RLE.dcm", "mr_export.png", "mr_flip.png"),
    "CT_small.dcm": ("ct_q40.jpg",),
}
ALONE = ("coins.png", "moon.png", "astronaut.png", "text.png")
EXPECTED_GROUPS = [{orig, *copies} for orig, copies in COPIES.items()]

# A split with two known crossings, and one with none.
TRAIN = ("camera.png", "coins.png", "MR_small.dcm", "CT_small.dcm")
TEST = ("camera_flip.png", "moon.png", "mr_export.png")
CROSSING = {("camera.png", "camera_flip.png"), ("MR_small.dcm", "mr_export.png")}
DISJOINT = ("astronaut.png", "text.png")  # against TRAIN


# --- images --------------------------------------------------------------------------------


def _dicom_export(name: str) -> Image.Image:
    """What a viewer's "export as PNG" gives: the VOI window applied, stretched to 8 bits."""
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    ds = dcmread(path)
    values = apply_voi_lut(ds.pixel_array, ds).astype(np.float64)
    values = (values - values.min()) / (values.max() - values.min()) * 255
    return Image.fromarray(np.rint(values).astype(np.uint8))


def make_images(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    for name in ("MR_small.dcm", "MR_small_RLE.dcm", "CT_small.dcm"):
        path = get_testdata_file(name)
        assert isinstance(path, str), name
        shutil.copyfile(path, folder / name)
    camera = Image.fromarray(skimage.data.camera())
    camera.save(folder / "camera.png")
    camera.resize((300, 300), Image.Resampling.LANCZOS).save(folder / "camera_small.png")
    camera.save(folder / "camera_q40.jpg", quality=40)
    ImageOps.mirror(camera).save(folder / "camera_flip.png")
    mr = _dicom_export("MR_small.dcm")
    mr.save(folder / "mr_export.png")
    ImageOps.mirror(mr).save(folder / "mr_flip.png")
    _dicom_export("CT_small.dcm").save(folder / "ct_q40.jpg", quality=40)
    Image.fromarray(skimage.data.coins()).save(folder / "coins.png")
    Image.fromarray(skimage.data.moon()).save(folder / "moon.png")
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(skimage.data.text()).save(folder / "text.png")
    return {p.name: p for p in sorted(folder.iterdir())}


def pick(images: dict[str, Path], folder: Path, names: Iterable[str]) -> Path:
    """A folder holding copies of the named images."""
    folder.mkdir(parents=True)
    for name in names:
        shutil.copyfile(images[name], folder / name)
    return folder


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class World:
    """The images, and two ledgers (made once per module).

    ``ledger`` holds every image as dataset ``corpus@1``; ``splits`` holds the train and
    test folders as ``train@1`` and ``test@1`` and the disjoint one as ``other@1`` (a file
    registered again is only "already known", so the splits need a ledger of their own).
    """

    def __init__(self, root: Path) -> None:
        self.images = make_images(root / "images")
        self.by_digest = {digest(p): name for name, p in self.images.items()}
        self.ledger = root / "ledger"
        self.splits = root / "splits"
        for directory in (self.ledger, self.splits):
            ledger = Ledger.init(directory)
            ledger.add_key("cur", "curator")
            ledger.store.engine.dispose()
        self.train = pick(self.images, root / "train", TRAIN)
        self.test = pick(self.images, root / "test", TEST)
        self.disjoint = pick(self.images, root / "disjoint", DISJOINT)
        self.register(self.ledger, root / "images", "corpus@1", "repo-a")
        self.register(self.splits, self.train, "train@1", "repo-a")
        self.register(self.splits, self.test, "test@1", "repo-b")
        self.register(self.splits, self.disjoint, "other@1", "repo-c")

    @staticmethod
    def register(ledger: Path, folder: Path, dataset: str, source: str) -> None:
        exe = Path(sys.executable).parent / "medledger"
        argv = [str(exe), "register", str(folder), "--source", source, "--license", "CC0-1.0",
                "--consent", "waived", "--key", "cur", "--dataset", dataset, *W1,
                "--ledger", str(ledger)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=300, check=False
        )
        assert proc.returncode == 0, proc.stderr

    def names(self, labels: Iterable[str]) -> set[str]:
        """Labels (paths or file digests) as the images' file names."""
        return {self.by_digest[x] if x in self.by_digest else Path(x).name for x in labels}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("dups"))


def groups_of(world: World, result: CliResult) -> list[set[str]]:
    assert result.rc == 0, result.stderr
    return [world.names(g) for g in result.json()["groups"]]


def pairs_of(world: World, result: CliResult) -> set[tuple[str, str]]:
    return {
        (world.by_digest.get(p["train"], Path(p["train"]).name),
         world.by_digest.get(p["test"], Path(p["test"]).name))
        for p in result.json()["pairs"]
    }  # fmt: skip


def same_groups(found: list[set[str]], expected: list[set[str]]) -> None:
    assert sorted(map(sorted, found)) == sorted(map(sorted, expected))
    assert [len(g) for g in found] == sorted((len(g) for g in found), reverse=True)


# --- dups ----------------------------------------------------------------------------------


def test_a_folder_groups_every_copy_with_its_original_and_nothing_else(
    world: World, cli: RunCli
) -> None:
    result = cli("dups", world.images["camera.png"].parent, *W1, "--json", ledger=world.ledger)
    same_groups(groups_of(world, result), EXPECTED_GROUPS)
    body = result.json()
    assert all(isinstance(x, str) for g in body["groups"] for x in g)
    assert body["set"] == {"name": str(world.images["camera.png"].parent), "kind": "folder",
                           "images": len(world.images), "refused": []}  # fmt: skip
    links = {(Path(x["a"]).name, Path(x["b"]).name): x for d in body["details"] for x in d["links"]}
    twin = links[("MR_small.dcm", "MR_small_RLE.dcm")]
    assert (twin["kind"], twin["distance"]) == ("exact", 0)
    flip = links[("camera.png", "camera_flip.png")]
    assert flip["kind"] == "near" and "mirror" in flip["detail"]


def test_files_given_one_by_one_are_labelled_by_their_paths(world: World, cli: RunCli) -> None:
    files = [world.images[n] for n in ("camera.png", "camera_q40.jpg", "coins.png", "moon.png")]
    result = cli("dups", *files, *W1, "--json", ledger=world.ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["groups"] == [[str(files[0]), str(files[1])]]


def test_a_registered_dataset_groups_the_same_images_by_file_digest(
    world: World, cli: RunCli
) -> None:
    result = cli("dups", "--dataset", "corpus@1", "--json", ledger=world.ledger)
    same_groups(groups_of(world, result), EXPECTED_GROUPS)
    body = result.json()
    assert all(len(x) == 64 for g in body["groups"] for x in g)  # SHA-256 of the files
    first = body["details"][0]["images"][0]
    assert {first["source"], first["dataset"]} == {"repo-a", "corpus@1"}
    assert all(x["distance"] >= 0 for d in body["details"] for x in d["links"])
    # NAME without a version means every version: still only corpus@1 here.
    every = cli("dups", "--dataset", "corpus", "--json", ledger=world.ledger)
    assert every.json()["groups"] == body["groups"]


def test_a_dataset_without_duplicates_has_no_groups(world: World, cli: RunCli) -> None:
    result = cli("dups", "--dataset", "train@1", "--json", ledger=world.splits)
    assert result.rc == 0, result.stderr
    assert result.json()["groups"] == []
    text = cli("dups", "--dataset", "train@1", ledger=world.splits)
    assert text.rc == 0 and "0 groups of duplicates" in text.stdout


def test_text_output_has_one_block_per_group(world: World, cli: RunCli) -> None:
    result = cli("dups", world.images["camera.png"].parent, *W1, ledger=world.ledger)
    assert result.rc == 0, result.stderr
    blocks = result.stdout.split("\n\n")
    assert "3 groups of duplicates (10 images in groups)" in blocks[0]
    assert [b.split(":")[0] for b in blocks[1:]] == ["group 1", "group 2", "group 3"]
    assert "duplicate of" in blocks[1] and "mirror" in result.stdout


@pytest.mark.parametrize("registered", [False, True], ids=["folder", "dataset"])
def test_the_html_report_shows_every_grouped_image(
    world: World, cli: RunCli, tmp_path: Path, registered: bool
) -> None:
    report = tmp_path / "dups.html"
    where = ("--dataset", "corpus@1") if registered else (world.images["camera.png"].parent,)
    result = cli("dups", *where, *W1, "--html", report, "--json", ledger=world.ledger)
    assert result.rc == 0, result.stderr
    page = report.read_text(encoding="utf-8")
    grouped = [x for g in result.json()["groups"] for x in g]
    assert page.count("<img ") == len(grouped) == 10
    assert page.count('class="group"') == 3
    for label in grouped:
        assert label in page
    if registered:
        assert "source: repo-a" in page and "dataset: corpus@1" in page
    assert "mirror" in page  # the match explanation


def test_a_folder_with_a_broken_file_lists_the_refusal(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    folder = pick(world.images, tmp_path / "mixed", ("camera.png", "camera_q40.jpg"))
    (folder / "broken.png").write_bytes(world.images["coins.png"].read_bytes()[:200])
    result = cli("dups", folder, *W1, "--json", ledger=world.ledger)
    assert result.rc == 0, result.stderr
    body = result.json()
    assert world.names(body["groups"][0]) == {"camera.png", "camera_q40.jpg"}
    assert [Path(r["path"]).name for r in body["set"]["refused"]] == ["broken.png"]


# --- leakage -------------------------------------------------------------------------------


def test_leakage_between_folders_finds_the_crossing_pairs(world: World, cli: RunCli) -> None:
    result = cli("leakage", "--train", world.train, "--test", world.test, *W1, "--json",
                 ledger=world.ledger)  # fmt: skip
    assert result.rc == 0, result.stderr
    assert pairs_of(world, result) == CROSSING
    for pair in result.json()["pairs"]:
        assert {"train", "test", "distance"} <= set(pair)
        assert isinstance(pair["distance"], int) and pair["distance"] >= 0
        assert pair["kind"] == "near" and pair["detail"]
    assert result.json()["test"]["leaked"] == 2


def test_leakage_between_registered_datasets(world: World, cli: RunCli) -> None:
    result = cli("leakage", "--train", "train@1", "--test", "test@1", "--json",
                 ledger=world.splits)  # fmt: skip
    assert result.rc == 0, result.stderr
    assert pairs_of(world, result) == CROSSING
    assert all(p["distance"] >= 0 for p in result.json()["pairs"])


def test_leakage_between_a_dataset_and_files(world: World, cli: RunCli) -> None:
    files = [world.images["camera_small.png"], world.images["ct_q40.jpg"]]
    args = ["--test", str(files[0]), "--test", str(files[1])]
    result = cli("leakage", "--train", "train@1", *args, *W1, "--json", ledger=world.splits)
    assert result.rc == 0, result.stderr
    assert pairs_of(world, result) == {
        ("camera.png", "camera_small.png"),
        ("CT_small.dcm", "ct_q40.jpg"),
    }


def _turned_camera(folder: Path, name: str) -> Path:
    """camera.png turned by 4 degrees (black corners) and saved as a JPEG: one of the copies
    the candidate stage finds from the original's side but not from the copy's."""
    folder.mkdir(parents=True)
    turned = Image.fromarray(skimage.data.camera()).rotate(4, Image.Resampling.BILINEAR)
    turned.save(folder / name, quality=80)
    return folder / name


def test_swapping_train_and_test_finds_the_same_pairs(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    original = pick(world.images, tmp_path / "original", ["camera.png"])
    turned = _turned_camera(tmp_path / "turned", "camera_turned.jpg").parent
    found = []
    for train, test in ((original, turned), (turned, original)):
        result = cli("leakage", "--train", train, "--test", test, *W1, "--json",
                     ledger=world.ledger)  # fmt: skip
        assert result.rc == 0, result.stderr
        found.append(pairs_of(world, result))
    assert found[0] == {("camera.png", "camera_turned.jpg")}
    assert found[1] == {("camera_turned.jpg", "camera.png")}


def test_a_pair_found_from_either_image_is_grouped(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    # the turned copy sorts first, and only the original's search finds the pair
    folder = pick(world.images, tmp_path / "both", ["camera.png"])
    shutil.copyfile(_turned_camera(tmp_path / "made", "a_turned.jpg"), folder / "a_turned.jpg")
    result = cli("dups", folder, *W1, "--json", ledger=world.ledger)
    assert groups_of(world, result) == [{"a_turned.jpg", "camera.png"}]


@pytest.mark.parametrize("registered", [False, True], ids=["folders", "datasets"])
def test_a_disjoint_split_has_no_pairs_and_passes_the_gate(
    world: World, cli: RunCli, registered: bool
) -> None:
    train, test = ("train@1", "other@1") if registered else (world.train, world.disjoint)
    result = cli("leakage", "--train", train, "--test", test, *W1, "--json", "--fail-on-leak",
                 ledger=world.splits)  # fmt: skip
    assert result.rc == 0, result.stderr
    assert result.json()["pairs"] == []
    text = cli("leakage", "--train", train, "--test", test, *W1, ledger=world.splits)
    assert text.rc == 0 and "0 pairs cross the split" in text.stdout


def test_fail_on_leak_exits_1_after_printing_the_pairs(world: World, cli: RunCli) -> None:
    plain = cli("leakage", "--train", "train@1", "--test", "test@1", ledger=world.splits)
    assert plain.rc == 0, plain.stderr
    assert "2 pairs cross the split" in plain.stdout
    gated = cli("leakage", "--train", "train@1", "--test", "test@1", "--json", "--fail-on-leak",
                ledger=world.splits)  # fmt: skip
    assert gated.rc == 1
    assert pairs_of(world, gated) == CROSSING
    assert "2 pairs" in gated.error_line()


def test_the_leakage_report_shows_both_images_of_every_pair(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    report = tmp_path / "leak.html"
    result = cli("leakage", "--train", world.train, "--test", "test@1", *W1, "--html", report,
                 "--json", ledger=world.splits)  # fmt: skip
    assert result.rc == 0, result.stderr
    pairs = result.json()["pairs"]
    assert len(pairs) == 2
    page = report.read_text(encoding="utf-8")
    assert page.count("<img ") == 2 * len(pairs)
    assert page.count('<tr id="pair-') == len(pairs)
    for pair in pairs:
        assert pair["train"] in page and pair["test"] in page


def test_the_console_script_gates_ci_on_leakage(world: World, run_cli: RunCli) -> None:
    result = run_cli("leakage", "--train", world.train, "--test", world.test, *W1,
                     "--fail-on-leak", ledger=world.ledger)  # fmt: skip
    assert result.rc == 1
    assert "2 pairs cross the split" in result.stdout
    assert result.error_line().startswith("medledger: leakage: 2 pairs")


# --- bad input -----------------------------------------------------------------------------


def bad_cases(world: World, tmp: Path) -> list[list[str | Path]]:
    missing = tmp / "no-such-folder"
    return [
        ["dups", "--dataset", "nope@1"],
        ["dups", missing],
        ["dups"],
        ["dups", world.train, "--dataset", "train@1"],
        ["dups", world.train, "--html", tmp / "no-such-dir" / "r.html"],
        ["dups", tmp / "empty"],
        ["leakage", "--train", "train@1", "--test", "nope@1"],
        ["leakage", "--train", world.train, "--test", missing],
        ["leakage", "--train", "nope", "--test", world.test],
        ["leakage", "--train", world.train, "--test", world.test, "--html", tmp],
    ]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    world: World, cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    before = snapshot(world.splits)
    for case in bad_cases(world, tmp_path):
        report = tmp_path / "report.html"
        args = case if "--html" in case else [*case, "--html", report]
        result = cli(*args, *W1, "--json", ledger=world.splits)
        assert result.rc == 2, (case, result.stderr)
        line = result.error_line()
        assert result.stdout == "", case
        assert not report.exists(), case
        named = [str(x) for x in case[1:] if "nope" in str(x) or "no-such" in str(x)]
        for name in named:
            assert name.split("/")[-1] in line or str(Path(name).parent) in line, (case, line)
    assert snapshot(world.splits) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "empty"]


# --- pairs no search compared -----------------------------------------------------------------


def test_a_pair_inside_a_candidate_group_is_compared_on_demand(
    world: World, tmp_path: Path
) -> None:
    folder = pick(world.images, tmp_path / "pair", ("camera.png", "camera_flip.png", "moon.png"))
    ledger = Ledger.open(world.ledger)
    try:
        files = resolve(ledger, [str(folder)], workers=1)
    finally:
        ledger.store.engine.dispose()
    at = {Path(m.label).name: i for i, m in enumerate(files.members)}
    camera, flip, moon = at["camera.png"], at["camera_flip.png"], at["moon.png"]
    check = pair_check(files.members)
    near = check(camera, flip)
    assert near is not None and near.kind == "near" and "mirror" in near.detail
    assert near.distance >= 0
    # Different pictures are not a verified pair, whatever else they were linked to.
    assert check(camera, moon) is None
