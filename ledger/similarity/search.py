"""Near-duplicate search: the candidate index, then verification of each candidate.

:class:`NearDuplicateIndex` holds the Hamming index of every registered image's
six descriptor keys (:mod:`ledger.similarity.index`) and reads descriptors
through a small storage interface, :class:`DescriptorSource` (``get(image_id)``);
:class:`MemoryDescriptors` is the in-memory one. A query probes the index with
its own keys (every query window in every dihedral variant), ranks the images
found by their smallest key distance, verifies at most ``max_candidates`` of
them (:func:`ledger.similarity.verification.verify`, the dihedral variants that hit
searched first) and returns the matches, best first, each with its verdict.

The two stages can be run apart: :meth:`NearDuplicateIndex.verification` finds a query's
candidates and reads their descriptors (it needs the index and the store), and
:func:`verified` of that task, a pure function of picklable values, verifies them, so that
worker processes can verify many queries at once. ``search`` is the two in one process.

Frames (issue 21): an indexed image may hold several descriptors, one per described frame of
a multi-frame image. The Hamming index's id of a key row is ``image << 32 | frame + 1`` (0:
the image's only descriptor), so the index itself knows nothing of frames. Candidates are
(image, frame) pairs, at most ``FRAMES_PER_IMAGE`` frames of one image, and a query's
matches name each image once, at its closest frame that verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ledger.errors import InputError
from ledger.fingerprint.descriptor import ALG, KEY_NAMES, VERSION, Descriptor, query_keys
from ledger.similarity.index import DEFAULT_CHUNKS, HammingIndex
from ledger.similarity.verification import DEFAULT_THRESHOLDS, Thresholds, Verdict, verify

KEY_KIND = f"{ALG}/{VERSION}"
DEFAULT_RADIUS = 8
DEFAULT_MAX_CANDIDATES = 64
FRAMES_PER_IMAGE = 4  # closest frames of one image verified per query
FRAME_BITS = 32
_FRAME_MASK = (1 << FRAME_BITS) - 1


def key_id(image: int, frame: int | None) -> int:
    """The index id of ``image``'s descriptor of ``frame`` (None: its only descriptor)."""
    if not 0 <= image < 1 << 31 or (frame is not None and not 0 <= frame < _FRAME_MASK):
        raise InputError(f"image {image}, frame {frame}: outside the index's id range")
    return image << FRAME_BITS | (0 if frame is None else frame + 1)


def _split(ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index ids to (image, frame + 1), frame + 1 = 0 for an image's only descriptor."""
    return ids >> FRAME_BITS, ids & _FRAME_MASK


class DescriptorSource(Protocol):
    """Where the engine reads stored descriptors (the ledger's store, later)."""

    def get(self, image_id: int, frame: int | None = None) -> Descriptor | None: ...


class MemoryDescriptors:
    """A dict-backed :class:`DescriptorSource`."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, int | None], Descriptor] = {}

    def put(self, image_id: int, descriptor: Descriptor, *, frame: int | None = None) -> None:
        self._items[(image_id, frame)] = descriptor

    def get(self, image_id: int, frame: int | None = None) -> Descriptor | None:
        return self._items.get((image_id, frame))

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Candidate:
    """An image the index found: its closest key pair and the dihedral variants that hit."""

    image: int
    distance: int
    key: str  # the indexed key's name (descriptor.KEY_NAMES)
    variants: tuple[int, ...]
    inverted: tuple[int, ...] = ()  # variants that hit with the query's negative
    frame: int | None = None  # the indexed frame (None: the image's only descriptor)


@dataclass(frozen=True)
class Match:
    image: int
    distance: int
    key: str
    verdict: Verdict
    frame: int | None = None  # the frame of a multi-frame image that matched

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "image": self.image,
            "distance": self.distance,
            "key": self.key,
            "verdict": self.verdict.to_json(),
            "explanation": self.verdict.explain(),
        }
        if self.frame is not None:
            out["frame"] = self.frame
        return out


class NearDuplicateIndex:
    """Candidate index plus verification. Parameters are per instance, never global."""

    def __init__(
        self,
        *,
        descriptors: DescriptorSource,
        radius: int = DEFAULT_RADIUS,
        chunks: int = DEFAULT_CHUNKS,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
        index: HammingIndex | None = None,
    ) -> None:
        if max_candidates < 1:
            raise InputError(f"max_candidates must be >= 1, got {max_candidates}")
        self.descriptors = descriptors
        self.radius = radius
        self.thresholds = thresholds
        self.max_candidates = max_candidates
        self.index = index or HammingIndex(
            key_kind=KEY_KIND, keys_per_image=len(KEY_NAMES), chunks=chunks
        )

    def __len__(self) -> int:
        return len(self.index)

    def add(self, image_id: int, descriptor: Descriptor, *, frame: int | None = None) -> None:
        self.index.add([key_id(image_id, frame)], [descriptor.keys])

    def add_keys(
        self, ids: npt.ArrayLike, keys: npt.ArrayLike, *, frames: npt.ArrayLike | None = None
    ) -> None:
        """Bulk load from stored keys: ``ids`` (n,), ``keys`` (n, 6) uint64; ``frames`` (n,):
        the frame of each row, for images with one descriptor per frame."""
        images = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(images) and (images.min() < 0 or images.max() >= 1 << 31):
            raise InputError("image ids must be in 0..2^31-1")
        slots = np.zeros_like(images)
        if frames is not None:
            slots = np.asarray(frames, dtype=np.int64).reshape(-1) + 1
            if slots.shape != images.shape or (len(slots) and slots.min() < 1):
                raise InputError("frames must give one frame number >= 0 per id")
        self.index.add((images << FRAME_BITS) | slots, keys)

    def candidates(self, query: Descriptor, *, exclude: Iterable[int] = ()) -> list[Candidate]:
        """Images with a key within ``radius`` of a query key, closest first."""
        probe = query_keys(query)
        hits = self.index.search(probe.keys, radius=self.radius)
        skip = set(exclude)
        images, slots = _split(hits.image)
        best: dict[tuple[int, int], tuple[int, int, tuple[set[int], set[int]]]] = {}
        order = np.lexsort((hits.key, hits.distance))
        for i in order:
            found = (int(images[i]), int(slots[i]))
            if found[0] in skip:
                continue
            q = hits.query[i]
            entry = best.get(found)
            if entry is None:
                entry = best[found] = (int(hits.distance[i]), int(hits.key[i]), (set(), set()))
            entry[2][int(probe.inverted[q])].add(int(probe.variant[q]))
        ranked = sorted(best.items(), key=lambda item: (item[1][0], item[0]))
        frames_of: dict[int, int] = {}
        out: list[Candidate] = []
        for (image, slot), (d, k, (up, down)) in ranked:
            frames_of[image] = frames_of.get(image, 0) + 1
            if frames_of[image] > FRAMES_PER_IMAGE:
                continue
            frame = None if slot == 0 else slot - 1
            out.append(Candidate(image, d, KEY_NAMES[k], tuple(sorted(up)), tuple(sorted(down)),
                                 frame=frame))  # fmt: skip
        return out

    def search(
        self,
        query: Descriptor,
        *,
        top: int | None = None,
        exclude: Iterable[int] = (),
        enough: int | None = None,
    ) -> list[Match]:
        """Verified near-duplicates of ``query``, highest correlation first.

        ``enough``: stop verifying (closest candidates first) once that many matched.
        The same as :func:`verified` of :meth:`verification`, except that the stored
        descriptors are read only as far as the verification gets."""
        if enough is not None and enough <= 0:
            return []
        picked = self.candidates(query, exclude=exclude)[: self.max_candidates]
        stored = (
            (c, d) for c in picked if (d := self.descriptors.get(c.image, c.frame)) is not None
        )
        matches = _verified(query, stored, thresholds=self.thresholds, enough=enough)
        return matches[:top] if top is not None else matches

    def verification(
        self, query: Descriptor, *, exclude: Iterable[int] = (), enough: int | None = None
    ) -> Verification:
        """What :meth:`search` verifies for ``query``, as a task for :func:`verified`.

        The candidates and their stored descriptors are read here (they need the index and
        the store); the task itself needs neither, so another process may run it."""
        picked: list[Candidate] = []
        if enough is None or enough > 0:
            picked = self.candidates(query, exclude=exclude)[: self.max_candidates]
        prefetch = getattr(self.descriptors, "prefetch", None)
        if prefetch is not None and picked:
            prefetch([(c.image, c.frame) for c in picked])  # one query for all (the store's)
        stored = ((c, self.descriptors.get(c.image, c.frame)) for c in picked)
        return Verification(
            query=query,
            candidates=tuple((c, d) for c, d in stored if d is not None),
            thresholds=self.thresholds,
            enough=enough,
        )

    def to_bytes(self) -> bytes:
        return self.index.to_bytes()

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        descriptors: DescriptorSource,
        radius: int = DEFAULT_RADIUS,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
    ) -> NearDuplicateIndex:
        index = HammingIndex.from_bytes(data, key_kind=KEY_KIND)
        return cls(
            descriptors=descriptors,
            radius=radius,
            chunks=index.chunks,
            thresholds=thresholds,
            max_candidates=max_candidates,
            index=index,
        )


@dataclass(frozen=True)
class Verification:
    """One query's verification: its candidates, closest first, each with its stored
    descriptor, the thresholds and the budget (``enough``: stop after that many matches).
    Picklable and self-contained, so that a worker process can run it."""

    query: Descriptor
    candidates: tuple[tuple[Candidate, Descriptor], ...]
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    enough: int | None = None


def verified(task: Verification) -> list[Match]:
    """The matches among ``task``'s candidates, highest correlation first: what
    :meth:`NearDuplicateIndex.search` returns for the same query (without ``top``)."""
    if task.enough is not None and task.enough <= 0:
        return []
    return _verified(task.query, task.candidates, thresholds=task.thresholds, enough=task.enough)


def _verified(
    query: Descriptor,
    stored: Iterable[tuple[Candidate, Descriptor]],
    *,
    thresholds: Thresholds,
    enough: int | None,
) -> list[Match]:
    """Verify closest first; once ``enough`` images matched, ``stored`` is read no further.
    An image is matched once: its other frames are not verified after one matched."""
    matches: list[Match] = []
    matched: set[int] = set()
    for candidate, descriptor in stored:
        if candidate.image in matched:
            continue
        verdict = _verify(descriptor, query, candidate, thresholds)
        if verdict.matched:
            matched.add(candidate.image)
            matches.append(Match(candidate.image, candidate.distance, candidate.key, verdict,
                                 frame=candidate.frame))  # fmt: skip
            if enough is not None and len(matches) >= enough:
                break
    matches.sort(key=lambda m: (-m.verdict.correlation, m.image))
    return matches


def _verify(
    stored: Descriptor, query: Descriptor, candidate: Candidate, thresholds: Thresholds
) -> Verdict:
    """As the hits suggest: the query as it is, and its negative if only that hit or the
    query as it is did not match."""
    if candidate.variants or not candidate.inverted:
        verdict = verify(stored, query, variants=candidate.variants, thresholds=thresholds)
        if verdict.matched or not candidate.inverted:
            return verdict
    hints = candidate.inverted
    return verify(stored, query, variants=hints, thresholds=thresholds, inverted=True)
