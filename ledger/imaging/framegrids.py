"""Near-duplicate descriptors of a multi-frame image's other frames (issue 21).

The image's own descriptor is its middle frame's (``render.thumbnail``). A frame exported on
its own (a PNG of frame 37 of a cine) is found only if that frame has keys in the index, so
registration also describes the other frames, from the pixels it has already decoded:

* every frame of an image of at most ``MAX_DESCRIBED_FRAMES`` frames;
* above that, ``MAX_DESCRIBED_FRAMES - 1`` (31) frames evenly spaced from the first to the
  last, the middle one among them (a 96-frame cine: every 3rd frame or so; a 300-slice CT:
  every 10th).

A frame whose descriptor is flat (a blank frame can only be matched exactly, by its
digest) or whose grid is the grid of a frame already described adds nothing and is left
out. Why 32 and what it costs: docs/decisions.md ("Every frame searchable").
"""

from __future__ import annotations

from ledger.fingerprint.descriptor import Descriptor, describe
from ledger.fingerprint.hashes import THUMBNAIL_SIZE
from ledger.imaging.decode import Decoded
from ledger.imaging.render import middle_frame, thumbnail

MAX_DESCRIBED_FRAMES = 32


def described_frames(count: int, *, limit: int = MAX_DESCRIBED_FRAMES) -> tuple[int, ...]:
    """The frames of a ``count``-frame image that get a descriptor, ascending (the middle
    frame, ``count // 2``, is always one of them); none for a single-frame image.
    ``limit`` is at least 3."""
    if count <= 1:
        return ()
    if count <= limit:
        return tuple(range(count))
    # An odd number of evenly spaced frames, so that the middle pick is the middle frame
    # (moved onto it by at most one frame where rounding put it beside it).
    picks = limit if limit % 2 else limit - 1
    step = (count - 1) / (picks - 1)
    picked = [round(i * step) for i in range(picks)]  # distinct: step > 1
    picked[picks // 2] = count // 2
    return tuple(picked)


def frame_descriptors(
    decoded: Decoded, primary: Descriptor, *, limit: int = MAX_DESCRIBED_FRAMES
) -> tuple[tuple[int, Descriptor], ...]:
    """(frame, descriptor) of the described frames other than the middle one (whose
    descriptor is ``primary``), leaving out flat frames and repeated grids."""
    seen = {primary.grid}
    out: list[tuple[int, Descriptor]] = []
    middle = middle_frame(decoded)
    for frame in described_frames(decoded.frames, limit=limit):
        if frame == middle:
            continue
        descriptor = describe(thumbnail(decoded, size=THUMBNAIL_SIZE, frame=frame))
        if descriptor.flat or descriptor.grid in seen:
            continue
        seen.add(descriptor.grid)
        out.append((frame, descriptor))
    return tuple(out)
