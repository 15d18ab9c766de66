"""What a declared derivation must agree with: the two images' own facts.

The steps are replayed over what can be known of the image after each of them (its
size and file format): a crop must fit the image it cuts, a resize to WxH must give a
WxH image unless a later step changes the size again, a conversion must start from the
format the image has then, and where the size or the format at the end is known it must
be the child's. A derivation made only of lossless conversions must keep the pixel
digest. A step whose effect on the size cannot be known (resample, registration,
synthesis, a free rotation) ends the size check; nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError
from ledger.model.vocabulary import Convert, Crop, Orient, Pad, Resize, Term

_FORM = re.compile(r"^\S+ (\d+)x(\d+)x(\d+)x(\d+)$")  # "<i2 1x512x512x1"
_SAME_SIZE = frozenset({"window", "normalise", "equalise", "bit_depth", "convert", "compress",
                        "deidentify", "deface", "segment", "smooth", "sharpen", "filter"})


@dataclass(frozen=True)
class ImageFacts:
    """What the checks read of a registered image: size, format and pixel digest."""

    width: int | None
    height: int | None
    format: str
    pixel_sha256: str

    @classmethod
    def of(cls, image: dict[str, Any]) -> ImageFacts:
        """From an image.registered entry's ``image`` object."""
        found = _FORM.fullmatch(str(image.get("pixel_form", "")))
        height, width = (int(found.group(2)), int(found.group(3))) if found else (None, None)
        return cls(width, height, str(image["format"]), str(image["pixel_sha256"]))


def check_steps(steps: list[Term], *, parent: ImageFacts, child: ImageFacts,
                where: str) -> None:
    """InputError (``where``: the child's file) at the first contradiction."""
    size: tuple[int, int] | None = None
    if parent.width is not None and parent.height is not None:
        size = (parent.width, parent.height)
    fmt: str | None = parent.format
    converted = False
    for n, step in enumerate(steps, start=1):
        name = f"step {n} ({step.term})"  # type: ignore[attr-defined]
        if isinstance(step, Crop) and size is not None:
            w, h = size
            if step.x + step.width > w or step.y + step.height > h:
                raise InputError(f"{where}: {name}: the box {step.width}x{step.height} at "
                                 f"({step.x}, {step.y}) does not fit the {w}x{h} image")
        if isinstance(step, Convert):
            if fmt is not None and step.from_format != fmt:
                raise InputError(f"{where}: {name}: converts from {step.from_format}, but the "
                                 f"image is {fmt} at that point")
            fmt, converted = step.to_format, True
        size = _size_after(step, size)
    if size is not None and (child.width, child.height) != size:
        raise InputError(f"{where}: the steps give a {size[0]}x{size[1]} image, the child is "
                         f"{child.width}x{child.height}")
    if converted and fmt != child.format:
        raise InputError(f"{where}: the steps end in {fmt}, the child is {child.format}")
    lossless = [s for s in steps if isinstance(s, Convert) and s.lossless]
    if lossless and len(lossless) == len(steps) and child.pixel_sha256 != parent.pixel_sha256:
        raise InputError(f"{where}: declared a lossless conversion, but the pixels differ from "
                         f"the parent's (pixel digest {child.pixel_sha256[:16]}, the parent's "
                         f"{parent.pixel_sha256[:16]})")


def _size_after(step: Term, size: tuple[int, int] | None) -> tuple[int, int] | None:
    if isinstance(step, Resize):
        return (step.width, step.height)
    if size is None:
        return None
    if isinstance(step, Crop):
        return (step.width, step.height)
    if isinstance(step, Pad):
        return (size[0] + step.left + step.right, size[1] + step.top + step.bottom)
    if isinstance(step, Orient):
        if step.angle is not None and step.angle.strip("-").strip("0.") != "":
            return None  # a free rotation's canvas depends on the tool
        return (size[1], size[0]) if step.dihedral % 2 else size
    term: str = step.term  # type: ignore[attr-defined]
    return size if term in _SAME_SIZE else None


__all__ = ["ImageFacts", "check_steps"]
