"""`medledger overlap` and `medledger composition` on real registrations.

Two source datasets are registered through the command line: ``a@1`` by repo-a (eight of
scikit-image's bundled pictures as PNG) and ``b@1`` by repo-b (six of pydicom's and
pydicom-data's DICOM files). Then a "Frankenstein" dataset ``f@1`` by repo-c: four
pictures of a@1 (an exact copy, two JPEG re-encodes, a resize), three of b@1 (an exact
copy, two 8-bit PNG exports, one also resized) and five pictures registered nowhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from conftest import CliResult, medledger_executable
from PIL import Image
from pydicom.data import get_testdata_file

from ..registration.support import RunCli, log_size, make_ledger
from .exports import eight_bit

A_PICTURES = ("camera", "moon", "coins", "clock", "brick", "page", "text", "cell")
B_FILES = ("CT_small.dcm", "MR_small.dcm", "693_J2KR.dcm", "RG1_J2KR.dcm", "US1_J2KR.dcm",
           "OBXXXX1A.dcm")  # fmt: skip
NEW_PICTURES = ("grass", "chelsea", "rocket", "coffee", "immunohistochemistry")
F_SIZE = 12
FROM_A, FROM_B, NEW = 4, 3, 5


def _grey(name: str) -> np.ndarray:
    pixels = np.asarray(getattr(skimage.data, name)())
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=-1)
    return np.asarray(pixels, dtype=np.uint8)


def _dicom(name: str) -> Path:
    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


def _resized(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    return image.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.LANCZOS)


@dataclass(frozen=True)
class Corpus:
    ledger: Path
    a: Path
    b: Path
    f: Path  # the Frankenstein folder (also registered as f@1)
    g: Path  # a folder registered nowhere: two pictures of a@1, one of b@1, two new


def _run(args: list[str], ledger: Path) -> None:
    """The real console script (the module's registrations outlive any one test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    proc = subprocess.run(
        [medledger_executable(), *args, "--ledger", str(ledger), "--json"],
        capture_output=True, text=True, timeout=300, check=False, env=env | {"NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _register(ledger: Path, folder: Path, source: str, dataset: str) -> None:
    origin = ["--license", "CC0-1.0", "--consent", "waived", "--key", "uploader"]
    _run(["register", str(folder), "--source", source, "--dataset", dataset, *origin,
          "--workers", "1"], ledger)  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("composition")
    a, b, f = root / "a", root / "b", root / "f"
    for folder in (a, b, f):
        folder.mkdir()
    for name in A_PICTURES:
        Image.fromarray(_grey(name)).save(a / f"{name}.png")
    for name in B_FILES:
        shutil.copyfile(_dicom(name), b / name)
    # From a@1: one exact copy, two JPEG re-encodes, one resize.
    shutil.copyfile(a / "coins.png", f / "coins-copy.png")
    Image.open(a / "camera.png").save(f / "camera.jpg", quality=85)
    Image.open(a / "clock.png").save(f / "clock.jpg", quality=90)
    _resized(Image.open(a / "moon.png"), 0.75).save(f / "moon-small.png")
    # From b@1: one exact copy, two 8-bit exports (one resized).
    shutil.copyfile(b / "CT_small.dcm", f / "ct-copy.dcm")
    Image.fromarray(eight_bit(b / "MR_small.dcm")).save(f / "mr-export.png")
    _resized(Image.fromarray(eight_bit(b / "US1_J2KR.dcm")), 0.5).save(f / "us-small.png")
    for name in NEW_PICTURES:
        Image.fromarray(_grey(name)).save(f / f"new-{name}.png")
    assert len(list(f.iterdir())) == F_SIZE
    g = root / "g"
    g.mkdir()
    Image.open(a / "camera.png").save(g / "camera-q70.jpg", quality=70)  # also f's camera.jpg
    shutil.copyfile(a / "brick.png", g / "brick-copy.png")
    _resized(Image.open(f / "mr-export.png"), 0.75).save(g / "mr-small.png")  # b@1 and f@1
    for name in ("gravel", "astronaut"):
        Image.fromarray(_grey(name)).save(g / f"new-{name}.png")
    ledger = make_ledger(root / "ledger")
    _register(ledger, a, "repo-a", "a@1")
    _register(ledger, b, "repo-b", "b@1")
    _register(ledger, f, "repo-c", "f@1")
    return Corpus(ledger, a, b, f, g)


def _shares(result: CliResult) -> dict[tuple[str, str], float]:
    body = result.json()
    return {(s["kind"], s["name"]): s["share"] for s in body["sources"]}


@pytest.mark.parametrize("target", ["f@1", "f"])
def test_composition_matches_the_construction(cli: RunCli, corpus: Corpus, target: str) -> None:
    result = cli("composition", target, "--json", ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    body = result.json()
    assert set(body) >= {"sources", "unseen_share"}
    for s in body["sources"]:
        assert set(s) >= {"name", "kind", "share"}
        assert s["kind"] in ("source", "dataset")
    assert _shares(result) == {
        ("source", "repo-a"): FROM_A / F_SIZE,
        ("dataset", "a@1"): FROM_A / F_SIZE,
        ("source", "repo-b"): FROM_B / F_SIZE,
        ("dataset", "b@1"): FROM_B / F_SIZE,
    }
    assert body["unseen_share"] == NEW / F_SIZE
    shares = [s["share"] for s in body["sources"]]
    assert shares == sorted(shares, reverse=True)


def test_composition_of_a_folder(cli: RunCli, corpus: Corpus) -> None:
    """Every registered image counts for a folder, including its own registration."""
    result = cli("composition", corpus.g, "--json", "--workers", "1", ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    assert _shares(result) == {
        ("source", "repo-a"): 2 / 5,
        ("dataset", "a@1"): 2 / 5,
        ("source", "repo-b"): 1 / 5,
        ("dataset", "b@1"): 1 / 5,
        ("source", "repo-c"): 2 / 5,
        ("dataset", "f@1"): 2 / 5,
    }
    assert result.json()["unseen_share"] == 2 / 5
    registered = cli("composition", corpus.f, "--json", "--workers", "1", ledger=corpus.ledger)
    shares = _shares(registered)
    assert shares[("dataset", "f@1")] == shares[("source", "repo-c")] == 1.0
    assert shares[("dataset", "a@1")] == FROM_A / F_SIZE
    assert registered.json()["unseen_share"] == 0.0


def test_composition_of_a_source_dataset_is_all_new(cli: RunCli, corpus: Corpus) -> None:
    """Registered first, a@1 comes from nowhere: later copies in f@1 do not count."""
    result = cli("composition", "a@1", "--json", ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["sources"] == []
    assert result.json()["unseen_share"] == 1.0


def test_composition_text_and_html(cli: RunCli, corpus: Corpus, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = cli("composition", "f@1", "--html", page, ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    assert "repo-a" in result.stdout and "33.3%" in result.stdout
    assert "unseen" in result.stdout and "41.7%" in result.stdout
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    for name in ("repo-a", "repo-b", "a@1", "b@1"):
        assert name in html
    assert not list(tmp_path.glob(".report.html.*"))  # no temporary file left


def test_overlap_counts(cli: RunCli, corpus: Corpus) -> None:
    result = cli("overlap", "a@1", "f@1", "--json", ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    body = result.json()
    assert set(body) >= {"exact", "near", "jaccard", "containment_a_in_b", "containment_b_in_a"}
    assert body["exact"] == 1  # coins-copy.png
    assert body["near"] == FROM_A
    assert body["containment_a_in_b"] == FROM_A / len(A_PICTURES)
    assert body["containment_b_in_a"] == FROM_A / F_SIZE
    clusters = len(A_PICTURES) + F_SIZE - FROM_A
    assert body["jaccard"] == FROM_A / clusters
    assert body["a"]["images"] == len(A_PICTURES) and body["b"]["images"] == F_SIZE


def test_overlap_both_ways_and_with_a_folder(cli: RunCli, corpus: Corpus) -> None:
    forward = cli("overlap", "f@1", "b@1", "--json", ledger=corpus.ledger).json()
    assert (forward["exact"], forward["near"]) == (1, FROM_B)  # ct-copy.dcm
    assert forward["containment_a_in_b"] == FROM_B / F_SIZE
    assert forward["containment_b_in_a"] == FROM_B / len(B_FILES)
    folder = cli("overlap", corpus.f, "b@1", "--json", "--workers", "1", ledger=corpus.ledger)
    assert folder.rc == 0, folder.stderr
    body = folder.json()
    for key in ("exact", "near", "jaccard", "containment_a_in_b", "containment_b_in_a"):
        assert body[key] == forward[key], key
    none = cli("overlap", "a@1", "b@1", "--json", ledger=corpus.ledger).json()
    assert (none["exact"], none["near"], none["jaccard"]) == (0, 0, 0.0)


def test_overlap_text(cli: RunCli, corpus: Corpus) -> None:
    result = cli("overlap", "a@1", "f@1", ledger=corpus.ledger)
    assert result.rc == 0, result.stderr
    assert "exact: 1 " in result.stdout and "near: 4 " in result.stdout
    assert "containment A in B: 50.0%" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("composition", "nosuch@1"),
        ("composition", "empty-folder"),
        ("overlap", "a@1", "nosuch@1"),
        ("overlap", "nosuch", "a@1"),
        ("overlap", "empty-folder", "a@1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    cli: RunCli, corpus: Corpus, tmp_path: Path, args: tuple[str, ...]
) -> None:
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    page = out / "report.html"
    before = log_size(corpus.ledger)
    argv = [str(empty) if a == "empty-folder" else a for a in args]
    if argv[0] == "composition":
        argv += ["--html", str(page)]
    result = cli(*argv, ledger=corpus.ledger)
    assert result.rc == 2
    line = result.error_line()
    assert "nosuch" in line or "empty-folder" in line
    assert result.stdout == ""
    assert not page.exists()
    assert list(out.iterdir()) == []
    assert list(empty.iterdir()) == []
    assert log_size(corpus.ledger) == before


def test_html_to_a_missing_folder_fails_before_work(cli: RunCli, corpus: Corpus) -> None:
    result = cli("composition", "f@1", "--html", corpus.ledger / "no" / "r.html",
                 ledger=corpus.ledger)  # fmt: skip
    assert result.rc == 2
    assert "no such folder" in result.error_line()
