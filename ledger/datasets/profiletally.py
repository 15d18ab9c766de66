"""Counting a profile one member at a time, keeping nothing of a member but its counts.

A profile of 100,000 members used to keep every parsed leaf until the end; holding 100,000
nested dicts made the cyclic garbage collector walk them over and over (most of the parse
time). A ``Tally`` counts each body as it comes and keeps only counters, plus, per
demographics commitment, how many members hold it: sex and age band are counted at the end,
once the caller knows which commitments a ``subject_demographics`` row opened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.datasets.profile import ATTRIBUTES, DEMOGRAPHIC, Attribute, Cell, Opened, Profile

# attribute read from the metadata (not a demographic) -> its keys, in order
_READ = [(name, keys) for name, keys in ATTRIBUTES.items() if keys and name not in DEMOGRAPHIC]
_SEX, _AGE_BAND = DEMOGRAPHIC["sex"], DEMOGRAPHIC["age_band"]
Pair = tuple[str | None, str | None]  # (sex, age band) as counted


class Tally:
    """Counts of image.registered bodies fed one at a time (``add``), turned into a
    ``Profile`` by ``profile`` with the demographics rows that opened."""

    def __init__(self) -> None:
        self.total = 0
        self._counters = {name: Counter[str]() for name in ATTRIBUTES}
        self._sources = self._counters["source"]
        self._read = [(self._counters[name], keys) for name, keys in _READ]
        # commitment -> members holding it; and what the metadata of those whose entry also
        # states sex or age band says, counted instead when no row opens the commitment
        self._committed: dict[str, int] = {}
        self._fallback: dict[str, Counter[Pair]] = {}
        self._stated = Counter[Pair]()  # (sex, age band) -> members

    def add(self, body: Mapping[str, Any]) -> None:
        """Count one member's image.registered body."""
        self.total += 1
        self._sources[str(body["source"])] += 1
        image = body["image"]
        metadata = image.get("metadata") or {}
        if metadata:
            for counter, keys in self._read:  # _first inlined: 400,000 calls at 100k members
                for key in keys:
                    value = metadata.get(key)
                    if isinstance(value, str) and (text := value.strip()):
                        counter[text] += 1
                        break
        pseudonyms = image.get("pseudonyms")
        commitment = pseudonyms.get("Demographics") if pseudonyms else None
        if not isinstance(commitment, str):
            if metadata:
                self._stated[_pair(metadata.get(_SEX), metadata.get(_AGE_BAND))] += 1
            return
        committed = self._committed
        committed[commitment] = committed.get(commitment, 0) + 1
        if metadata and (_SEX in metadata or _AGE_BAND in metadata):
            pair = _pair(metadata.get(_SEX), metadata.get(_AGE_BAND))
            self._fallback.setdefault(commitment, Counter())[pair] += 1

    def commitments(self) -> set[str]:
        """The demographics commitments the members' entries hold."""
        return set(self._committed)

    def settle(self, opened: Iterable[tuple[str, Any, Any]]) -> None:
        """Count sex and age band of the committed members; ``opened`` holds (commitment,
        sex, age band) of each row that opened its commitment (a commitment without one
        counts as its entry's metadata says, usually nothing)."""
        committed, stated = self._committed, self._stated
        pairs = Counter[tuple[Any, Any]]()  # the few distinct pairs the rows hold
        found = set()
        for commitment, sex, age_band in opened:
            if (times := committed.get(commitment)) is not None:
                pairs[sex, age_band] += times
                found.add(commitment)
        for (sex, age_band), times in pairs.items():
            stated[_pair(sex, age_band)] += times
        for commitment, fallback in self._fallback.items():
            if commitment not in found:
                stated.update(fallback)
        committed.clear()  # counted: settling again must not count them twice
        self._fallback.clear()

    def merge(self, other: Tally) -> None:
        """Add the counts of another settled tally (another share of the same members)."""
        self.total += other.total
        for name, counter in other._counters.items():
            self._counters[name].update(counter)
        self._stated.update(other._stated)
        for commitment, times in other._committed.items():
            self._committed[commitment] = self._committed.get(commitment, 0) + times
        for commitment, fallback in other._fallback.items():
            self._fallback.setdefault(commitment, Counter()).update(fallback)

    def result(self, label: str) -> Profile:
        """The profile of a settled tally."""
        counters = dict(self._counters)
        for n, name in enumerate(("sex", "age_band")):  # the order of a Pair
            counters[name] = Counter[str]()
            for pair, times in self._stated.items():
                if (value := pair[n]) is not None:
                    counters[name][value] += times
        return Profile(label, self.total, [
            Attribute(name, [Cell(v, n) for v, n in sorted(c.items(), key=lambda i: (-i[1], i[0]))],
                      self.total - sum(c.values()))
            for name, c in counters.items()])  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """A settled tally as JSON (what a worker process hands back)."""
        if self._committed:
            raise ValueError("settle the tally first")
        return {"total": self.total, "counters": self._counters,
                "stated": [[*pair, times] for pair, times in self._stated.items()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        tally = cls()
        tally.total = int(data["total"])
        for name, counts in data["counters"].items():
            tally._counters[name].update({str(k): int(v) for k, v in counts.items()})
        for sex, age_band, times in data["stated"]:
            tally._stated[sex, age_band] += int(times)
        return tally

    def profile(self, label: str, opened: Iterable[tuple[str, Any, Any]]) -> Profile:
        """``settle`` with ``opened``, then the ``result``."""
        self.settle(opened)
        return self.result(label)


def _stated(value: Any) -> str | None:
    """A value as counted: a non-blank string, stripped; else not stated."""
    return text if isinstance(value, str) and (text := value.strip()) else None


def _pair(sex: Any, age_band: Any) -> Pair:
    return _stated(sex), _stated(age_band)


def profile(label: str, bodies: Iterable[Mapping[str, Any]], opened: Opened | None = None
            ) -> Profile:  # fmt: skip
    """The profile of image.registered bodies (one per member); ``opened`` holds the
    demographics of the commitments that a side row opened (absent: erased or never kept)."""
    tally = Tally()
    for body in bodies:
        tally.add(body)
    return tally.profile(label, ((c, v.get(_SEX), v.get(_AGE_BAND))
                                 for c, v in (opened or {}).items()))
