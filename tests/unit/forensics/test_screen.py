"""The screening: the combination rule, a failing module, the entry form, determinism."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.errors import InputError
from ledger.forensics import screen as screening
from ledger.forensics.screen import SIGNAL_MODULES, advisory, combine, decimal, quarantine_level
from ledger.forensics.signal import Level, Sample, Signal
from ledger.model.screening import ScreeningRecord

from .samples import screened


def sig(name: str, level: Level, score: float = 0.5) -> Signal:
    return Signal(name, score, level, "test")


def test_the_overall_level_is_the_strongest_signal() -> None:
    assert combine([]) == Level.NONE
    assert combine([sig("a.x", Level.NONE), sig("b.y", Level.LOW)]) == Level.LOW
    assert combine([sig("a.x", Level.LOW), sig("b.y", Level.HIGH)]) == Level.HIGH


def test_two_medium_signals_from_different_families_corroborate_to_high() -> None:
    assert combine([sig("dicom.x", Level.MEDIUM), sig("dicom.y", Level.MEDIUM)]) == Level.MEDIUM
    assert combine([sig("dicom.x", Level.MEDIUM), sig("exif.y", Level.MEDIUM)]) == Level.HIGH


def _sample() -> Sample:
    return Sample("x.png", b"", "png", np.zeros((1, 4, 4, 3), np.uint8), 8,
                  extra={"color": "RGB"})


def test_a_failing_module_costs_only_its_own_signals() -> None:
    def broken(_sample: Sample) -> list[Signal]:
        raise ValueError("unexpected layout")

    def found(_sample: Sample) -> list[Signal]:
        return [sig("png.generator_text", Level.HIGH, 1.0)]

    bad = types.ModuleType("ledger.forensics.broken")
    bad.detect = broken  # type: ignore[attr-defined]
    good = types.ModuleType("ledger.forensics.good")
    good.detect = found  # type: ignore[attr-defined]
    result = screening.screen(_sample(), modules=(bad, good))
    assert result.level == Level.HIGH
    [failed] = [s for s in result.signals if s.name == "screening.module_failed"]
    assert failed.level == Level.NONE and "broken" in failed.evidence
    assert "ValueError" in failed.evidence


def test_the_entry_form_validates_and_holds_no_floats_or_evidence() -> None:
    result = screening.Screening(Level.MEDIUM, (sig("dicom.pixel_range", Level.MEDIUM, 0.7),
                                                sig("dicom.digital_signature", Level.NONE, 0)))
    entry = result.to_entry()
    ScreeningRecord.model_validate(entry)
    assert entry["signals"][0] == {"name": "dicom.pixel_range", "score": "0.7000",
                                   "level": "medium"}
    assert "evidence" not in str(entry)
    assert decimal(1.5) == "1.0000" and decimal(-1) == "0.0000"


def test_every_signal_module_names_its_source() -> None:
    for module in SIGNAL_MODULES:
        assert callable(module.detect)
        assert "Source" in (module.__doc__ or ""), module.__name__


def test_quarantine_levels() -> None:
    assert quarantine_level(None, screen=True) is None
    assert quarantine_level("Medium", screen=True) == Level.MEDIUM
    for bad in ("none", "severe"):
        with pytest.raises(InputError):
            quarantine_level(bad, screen=True)
    with pytest.raises(InputError, match="no-screen"):
        quarantine_level("high", screen=False)


def test_the_same_file_screens_the_same_twice(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    pixels = (np.random.default_rng(2).random((300, 300, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    first, second = screened(path), screened(path)
    assert first == second
    assert all(advisory(s) for s in first.signals)  # noise: no deterministic signal


def test_advisory_pixel_statistics_alone_never_reach_high() -> None:
    smooth = Signal("smoothing.median_roots", 0.6, Level.MEDIUM, "e")
    sharp = Signal("sharpening.overshoot", 0.6, Level.MEDIUM, "e")
    dicom = Signal("dicom.synthetic_data", 0.6, Level.MEDIUM, "e")
    assert combine([smooth, sharp]) == Level.MEDIUM
    assert combine([smooth, dicom]) == Level.HIGH
