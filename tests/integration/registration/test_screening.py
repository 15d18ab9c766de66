"""The screening end to end: inspect, the signed entry, --quarantine, show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ledger.model.images import ImageFacts

from .support import RunCli, image_entries, register_args


def _png(path: Path, seed: int, **text: str) -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    pixels = (np.random.default_rng(seed).random((40, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "PNG", pnginfo=info)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return {
        "generated": _png(folder / "generated.png", 1,
                          parameters="a chest x-ray\nSteps: 20, Sampler: Euler a, Seed: 3"),
        "clean": _png(folder / "clean.png", 2, Title="exported"),
        "clean2": _png(folder / "clean2.png", 3),
    }


def test_inspect_json_shape_and_words(cli: RunCli, files: dict[str, Path]) -> None:
    result = cli("inspect", files["generated"], files["clean"], "--json")
    assert result.rc == 0, result.stderr
    found = result.json()
    assert [item["path"] for item in found] == [str(files["generated"]), str(files["clean"])]
    assert [item["level"] for item in found] == ["high", "none"]
    [signal] = found[0]["signals"]
    assert {"name", "score", "evidence"} <= signal.keys()
    assert signal["name"] == "png.generator_text" and signal["score"] == 1.0
    assert found[1]["signals"] == []
    text = cli("inspect", files["generated"], files["clean"])
    assert text.rc == 0
    assert f"{files['generated']}: suspected (high)" in text.stdout
    assert f"{files['clean']}: no signal found" in text.stdout
    for word in ("fake", "authentic"):
        assert word not in text.stdout.lower()


def test_inspect_html_page(cli: RunCli, files: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    assert cli("inspect", files["generated"], "--html", page).rc == 0
    html = page.read_text("utf-8")
    assert "png.generator_text" in html and "suspected (high)" in html
    assert "Content-Security-Policy" in html and "<script" not in html
    assert "fake" not in html.lower() and "authentic" not in html.lower()


def test_inspect_bad_input_is_one_line_exit_2(
    cli: RunCli, files: dict[str, Path], tmp_path: Path
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    result = cli("inspect", files["clean"], junk, "--json")
    assert result.rc == 2 and result.stdout == ""
    assert str(junk) in result.error_line() and "not a recognised image" in result.stderr


def test_quarantine_refuses_the_flagged_file_and_registers_the_rest(
    cli: RunCli, reg_ledger: Path, files: dict[str, Path]
) -> None:
    folder = files["clean"].parent
    result = cli(*register_args(folder, json=False, extra=("--quarantine", "medium")),
                 ledger=reg_ledger)
    assert result.rc == 2
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused:")]
    assert len(refused) == 1 and str(files["generated"]) in refused[0]
    assert "quarantined" in refused[0] and "png.generator_text" in refused[0]
    assert "registered 2, already known 0, refused 1" in result.stdout
    entries = image_entries(cli, reg_ledger)
    assert len(entries) == 2
    for entry in entries:
        # small images: the pixel statistics are deferred to inspect, and the entry says so
        assert entry["image"]["screening"] == {
            "v": 2, "level": "none", "signals": [],
            "deferred": ["jpegquant", "resampling", "smoothing", "sharpening", "contrast"],
        }


def test_the_screening_is_in_the_signed_entry_and_shown(
    cli: RunCli, reg_ledger: Path, files: dict[str, Path]
) -> None:
    result = cli(*register_args(files["generated"]), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    [entry] = image_entries(cli, reg_ledger)
    assert entry["image"]["screening"] == {
        "v": 2, "level": "high",
        "signals": [{"name": "png.generator_text", "score": "1.0000", "level": "high"}],
        "deferred": ["jpegquant", "resampling", "smoothing", "sharpening", "contrast"],
    }
    shown = cli("show", files["generated"], ledger=reg_ledger)
    assert shown.rc == 0, shown.stderr
    assert "screening v2 at registration: suspected (high): png.generator_text high 1.0000" \
        " (not run: jpegquant, resampling, smoothing, sharpening, contrast; see inspect)" \
        in shown.stdout
    assert cli("verify", ledger=reg_ledger).rc == 0


def test_no_screen_leaves_the_field_out_and_old_entries_stay_valid(
    cli: RunCli, reg_ledger: Path, files: dict[str, Path]
) -> None:
    result = cli(*register_args(files["clean"], extra=("--no-screen",)), ledger=reg_ledger)
    assert result.rc == 0, result.stderr
    [entry] = image_entries(cli, reg_ledger)
    assert "screening" not in entry["image"]
    ImageFacts.model_validate(entry["image"])  # an entry from before the field is valid
    with pytest.raises(ValueError, match="never null"):
        ImageFacts.model_validate({**entry["image"], "screening": None})
    refused = cli(*register_args(files["clean"], extra=("--no-screen", "--quarantine", "low")),
                  ledger=reg_ledger)
    assert refused.rc == 2 and "--no-screen" in refused.error_line()
