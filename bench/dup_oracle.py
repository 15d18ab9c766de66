"""The verification alone, with oracle candidates (issue 21): ``bench/duplicates.py
--oracle-candidates``.

The end-to-end figures mix two stages: a true pair the candidate stage never offered is a
miss the verification cannot repair. Here every pair is handed to
:func:`ledger.similarity.verification.verify` directly, as if the candidate stage had found
it: every query against each indexed image of its family (recall per transform), against
every indexed hard negative of its family (neighbouring slices and frames, other regions and
tiles of one image), and every pair of unrelated indexed images of a deterministic sample
(all 274,877 pairs of the full corpus would take hours; the sample is stated in the output).
Without a hint, all eight dihedral variants are searched; a pair that does not match is
tried once more as a negative (``inverted=True``), as the engine does for candidates its
negative keys found.

``--save-corpus PATH`` / ``--load-corpus PATH`` keep the corpus (thumbnails and ground
truth, a few MB) so that rules can be tried on the same pairs without rebuilding it.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ledger.similarity import Thresholds, describe
from ledger.similarity.verification import Verdict, verify

if TYPE_CHECKING:
    from duplicates import Corpus


def save(corpus: Corpus, path: Path) -> None:
    """Plain tuples (not the classes, which live in whichever module runs as __main__)."""

    def rows(samples: list[Any]) -> list[tuple[Any, ...]]:
        return [(s.key, s.family, s.kind, s.thumb, s.baseline) for s in samples]

    state = (rows(corpus.index), rows(corpus.queries), corpus.hard, corpus.ignore)
    path.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def load(path: Path, corpus_type: type[Corpus], sample_type: type[Any]) -> Corpus:
    index, queries, hard, ignore = pickle.loads(path.read_bytes())  # noqa: S301 (our own file)
    return corpus_type(
        [sample_type(*row) for row in index], [sample_type(*row) for row in queries], hard, ignore
    )


def _verify(stored: Any, query: Any, thresholds: Thresholds) -> Verdict:
    verdict = verify(stored, query, thresholds=thresholds)
    if verdict.matched:
        return verdict
    negative = verify(stored, query, thresholds=thresholds, inverted=True)
    return negative if negative.matched else verdict


def pairs(corpus: Corpus, *, unrelated: int, seed: int = 3) -> list[tuple[str, int, int, str]]:
    """(side, i, j, label): side "q" pairs query i with indexed image j, "x" pairs indexed
    images i and j; label is the query's kind for true pairs, "hard" or "unrelated"."""
    families = [s.family for s in corpus.index]
    out: list[tuple[str, int, int, str]] = []
    for qi, q in enumerate(corpus.queries):
        for j, family in enumerate(families):
            relation = corpus.relation(family, q.family)
            if relation == "same":
                out.append(("q", qi, j, q.kind))
            elif relation == "hard":
                out.append(("q", qi, j, "hard"))
    candidates = [
        (i, j)
        for i in range(len(families))
        for j in range(i + 1, len(families))
        if corpus.relation(families[i], families[j]) == "unrelated"
    ]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(candidates), size=min(unrelated, len(candidates)), replace=False)
    out += [("x", candidates[int(k)][0], candidates[int(k)][1], "unrelated") for k in picks]
    return out


def evaluate(corpus: Corpus, *, thresholds: Thresholds, unrelated: int) -> dict[str, Any]:
    stored = [describe(s.thumb) for s in corpus.index]
    queried = [describe(s.thumb) for s in corpus.queries]
    found: dict[str, list[bool]] = {}
    false: dict[str, list[str]] = {"hard": [], "unrelated": []}
    counts = {"hard": 0, "unrelated": 0}
    start = time.perf_counter()
    todo = pairs(corpus, unrelated=unrelated)
    for side, i, j, label in todo:
        query = queried[i] if side == "q" else stored[i]
        verdict = _verify(stored[j], query, thresholds)
        if label in counts:
            counts[label] += 1
            if verdict.matched:
                name = corpus.queries[i].key if side == "q" else corpus.index[i].key
                false[label].append(f"{name} ~ {corpus.index[j].key}: {verdict.explain()}")
        else:
            found.setdefault(label, []).append(verdict.matched)
    elapsed = time.perf_counter() - start
    tp = sum(sum(v) for v in found.values())
    positives = sum(len(v) for v in found.values())
    return {
        "recall": {k: round(float(np.mean(v)), 4) for k, v in found.items()},
        "recall_all": round(tp / max(positives, 1), 4),
        "true_pairs": positives,
        "hard_pairs": counts["hard"],
        "hard_fp": len(false["hard"]),
        "hard_fpr": round(len(false["hard"]) / max(counts["hard"], 1), 4),
        "unrelated_pairs_sampled": counts["unrelated"],
        "unrelated_fp": len(false["unrelated"]),
        "unrelated_fpr": round(len(false["unrelated"]) / max(counts["unrelated"], 1), 6),
        "false_matches": false["hard"][:20] + false["unrelated"][:20],
        "seconds_per_pair": round(elapsed / max(len(todo), 1), 4),
    }


def report(figures: dict[str, Any]) -> str:
    lines = ["verification alone (oracle candidates):"]
    recall = figures["recall"]
    for kind, value in recall.items():
        lines.append(f"  recall {kind:30s} {value:.3f}")
    lines.append(f"  recall over {figures['true_pairs']} true pairs: {figures['recall_all']:.4f}")
    lines.append(
        f"  hard negatives: {figures['hard_fp']} of {figures['hard_pairs']} "
        f"(FPR {figures['hard_fpr']:.4f})"
    )
    lines.append(
        f"  unrelated pairs (sample): {figures['unrelated_fp']} of "
        f"{figures['unrelated_pairs_sampled']} (FPR {figures['unrelated_fpr']:.6f})"
    )
    lines += [f"    false match: {line}" for line in figures["false_matches"]]
    lines.append(f"  {figures['seconds_per_pair']} s per pair")
    return "\n".join(lines)
