"""The screening: every signal module run on one decoded image, combined into one level.

Adding a signal module is one line in ``SIGNAL_MODULE_NAMES``. Each module's ``detect`` is called
once with the same ``Sample`` (the registration worker's own decode: nothing is decoded
twice). A module that fails on an image it cannot judge costs that module's signals only:
the screening records ``screening.module_failed`` (level none) and goes on, so it never
raises for an image that decoded.

Combination rule (``combine``), versioned by ``SCREENING_VERSION``:

* the overall level is the highest level of any signal;
* two or more signals at ``medium`` from different families (the name before its first
  dot: ``c2pa``, ``exif``, ``dicom``, ...), one of them deterministic, raise it to ``high``
  (independent evidence corroborates; advisory pixel statistics alone never reach ``high``);
* advisory signals (the pixel statistics of ``ADVISORY_MODULE_NAMES``) are kept only at
  ``low`` or above: below their thresholds their scores mean nothing to a reader;
* no signal above ``none``: "no signal found" — never evidence of authenticity.

At registration (``screen_at_registration``) the advisory pixel statistics run only on
frames of at least ``REGISTRATION_PIXEL_SAMPLES`` samples: their cost is fixed (3-5 ms of
CPU for their crops), which is most of a small image's whole registration and a few per cent
of a large one's. Where they do not run, the result names them in ``deferred`` (recorded in
the entry) and ``medledger inspect`` runs them on the file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ledger.errors import InputError
from ledger.forensics.signal import Level, Sample, Signal
from ledger.imaging.decode import Decoded

# 2: a linear re-window undone (contrast), the half-band cliff (resampling), the pixel
# statistics deferred at registration on small frames (``deferred`` in the entry).
SCREENING_VERSION = 2

# The modules of ledger.forensics the screening runs, in this order. One line per module;
# adding, removing or recalibrating one changes what a level means: bump SCREENING_VERSION.
SIGNAL_MODULE_NAMES: tuple[str, ...] = (
    "c2pamanifest",
    "xmpsource",
    "pngtext",
    "exifsoftware",
    "exifthumb",
    "watermark",
    "dicomcheck",
)
# Pixel statistics: advisory, thresholds calibrated on clean controls by bench/forensics.py.
ADVISORY_MODULE_NAMES: tuple[str, ...] = (
    "jpegquant",
    "resampling",
    "smoothing",
    "sharpening",
    "contrast",
)
SIGNAL_MODULES: tuple[ModuleType, ...] = tuple(
    importlib.import_module(f"ledger.forensics.{name}")
    for name in (*SIGNAL_MODULE_NAMES, *ADVISORY_MODULE_NAMES)
)
DETERMINISTIC_MODULES: tuple[ModuleType, ...] = SIGNAL_MODULES[: len(SIGNAL_MODULE_NAMES)]
# Registration runs the pixel statistics on frames of at least this many samples (rows x
# columns x samples per pixel): from there their fixed cost (3.6-4.4 ms) is under a tenth of
# a PNG's analysis and a fifth of a JPEG's (docs/forensics.md, "Cost").
REGISTRATION_PIXEL_SAMPLES = 2048 * 2048
ADVISORY_FAMILIES = frozenset({"jpeg", "resampling", "smoothing", "sharpening", "contrast"})


def advisory(signal: Signal) -> bool:
    return family(signal) in ADVISORY_FAMILIES


def family(signal: Signal) -> str:
    return signal.name.split(".", 1)[0]

MAX_SIGNALS = 16  # an entry holds at most this many (strongest first)


@dataclass(frozen=True)
class Screening:
    level: Level
    signals: tuple[Signal, ...]
    version: int = SCREENING_VERSION
    deferred: tuple[str, ...] = ()  # modules not run (registration, small images)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "level": self.level.label,
            "signals": [s.to_json() for s in self.signals],
        }
        if self.deferred:
            out["deferred"] = list(self.deferred)
        return out

    def to_entry(self) -> dict[str, Any]:
        """What the signed image.registered entry records: no evidence text, no floats."""
        out: dict[str, Any] = {
            "v": self.version,
            "level": self.level.label,
            "signals": [
                {"name": s.name, "score": decimal(s.score), "level": s.level.label}
                for s in self.signals[:MAX_SIGNALS]
            ],
        }
        if self.deferred:
            out["deferred"] = list(self.deferred)
        return out


def decimal(score: float) -> str:
    """A score as the log writes it: four decimals, clamped to 0..1."""
    return f"{min(max(score, 0.0), 1.0):.4f}"


Detector = Callable[[Sample], list[Signal]]


def screen(
    sample: Sample,
    *,
    modules: Sequence[ModuleType] = SIGNAL_MODULES,
    deferred: tuple[str, ...] = (),
) -> Screening:
    signals: list[Signal] = []
    for module in modules:
        detect: Detector = module.detect
        try:
            signals.extend(detect(sample))
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # a module's failure must not cost the other signals
            short = module.__name__.rsplit(".", 1)[-1]
            signals.append(Signal(
                "screening.module_failed", 0.0, Level.NONE,
                f"{short} could not judge this image ({type(exc).__name__})",
            ))
    kept = [s for s in signals if s.level > Level.NONE or not advisory(s)]
    ordered = tuple(sorted(kept, key=lambda s: (-s.level, -s.score, s.name)))
    return Screening(combine(ordered), ordered, deferred=deferred)


def combine(signals: Sequence[Signal]) -> Level:
    """The overall level under the rule in this module's docstring."""
    if not signals:
        return Level.NONE
    top = max(s.level for s in signals)
    medium = [s for s in signals if s.level >= Level.MEDIUM]
    families = {family(s) for s in medium}
    if top == Level.MEDIUM and len(families) >= 2 and not all(advisory(s) for s in medium):
        return Level.HIGH
    return Level(top)


def quarantine_level(quarantine: str | None, *, screen: bool) -> int | None:
    """``--quarantine LEVEL`` as a Level value; refused without the screening or as none."""
    if quarantine is None:
        return None
    try:
        level = Level.parse(quarantine)
    except ValueError as exc:
        raise InputError(f"--quarantine: {exc}") from None
    if level == Level.NONE:
        raise InputError("--quarantine none would refuse every image; use low, medium or high")
    if not screen:
        raise InputError("--quarantine needs the screening; drop --no-screen")
    return int(level)


def sample_of(decoded: Decoded) -> Sample:
    """The screening's view of one decode (no copy of the pixels is made)."""
    return Sample(
        name=decoded.name,
        data=decoded.data,
        format=decoded.format,
        pixels=decoded.pixels,
        bits_stored=decoded.bits_stored,
        dataset=decoded.dataset,
        transfer_syntax=decoded.transfer_syntax,
        extra={"color": decoded.color, "signed": decoded.signed,
               "beyond_bits_stored": decoded.beyond_bits_stored},
    )


def screen_decoded(decoded: Decoded) -> Screening:
    """Every module: what ``medledger inspect`` shows."""
    return screen(sample_of(decoded))


def screen_at_registration(decoded: Decoded) -> Screening:
    """The deterministic checks always; the pixel statistics on large frames only."""
    pixels = decoded.pixels
    frame_samples = int(pixels[0].size) if pixels.ndim == 4 and pixels.shape[0] else 0
    if frame_samples >= REGISTRATION_PIXEL_SAMPLES:
        return screen(sample_of(decoded))
    return screen(sample_of(decoded), modules=DETERMINISTIC_MODULES,
                  deferred=ADVISORY_MODULE_NAMES)
