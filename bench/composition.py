"""Composition benchmark (issue "overlap and composition"): accuracy and scale; prints figures.

Never asserts; prints a report (or ``--json``).

Accuracy ("Frankenstein", real public images, nothing downloaded): repo-a registers
``a@1`` (scikit-image's bundled pictures as grey PNG), repo-b registers ``b@1`` (pydicom's
and pydicom-data's DICOM files). A Frankenstein folder takes some of each, each copy
transformed (exact copy, JPEG re-encode, resize, crop to 90%, gamma; for DICOM an 8-bit
PNG export, re-encoded or resized too), plus pictures registered nowhere. Its
composition is measured twice through the service: as a folder (before it is
registered) and as the registered dataset ``f@1`` by repo-c. Error per source, in
percentage points, against the construction.

Scale: ``--datasets`` registered datasets (default 100) of ``--images`` images each
(default 500), spread over ten sources, then one dataset of ``--target`` images (default
10,000) made of 25% / 15% / 10% of the first three datasets, 2% of each of the next five
and 40% new pictures. Entries are signed image.registered entries with synthetic facts
(no descriptor: copies are exact pixel copies), appended with ``Ledger.submit`` and
checked by the catch-up scan, so the store rows come from the real code path. Timed:
composition of the target; the baseline in the same run is the exact all-pairs
comparison (the target's duplicate groups against every registered source's and
dataset's groups), which with exact copies only gives the same counts.

Unrelated images (issue 21): tiles of large pictures (each its own original), DICOM
files and synthetic chains A ~ B ~ C (A and C unrelated) are registered; a folder of
tiles no repository holds must be reported >= 99% new, and ``dups`` over everything plus
real copies must hold no group with two unrelated originals. Prints how many pairs of
unrelated originals share a group, and how many of those were verified directly rather
than joined through a chain.

    python bench/composition.py --quick     # 20 datasets x 200 images, target 2,000
    python bench/composition.py             # 100 x 500, target 10,000
    python bench/composition.py --json --skip-accuracy
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import skimage.data
from PIL import Image
from pydicom.data import get_testdata_file
from sqlalchemy import select

from ledger.registration.pipeline import RegisterOptions
from ledger.service import Ledger
from ledger.service.register import register
from ledger.similarity.composition import composition
from ledger.similarity.groups import duplicate_groups
from ledger.similarity.sets import prepare, resolve
from ledger.store import reading
from ledger.store.tables import DupScanRow, ImageRow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # as pytest sees it
from integration.duplicates.chains import chain, grey8
from integration.duplicates.exports import eight_bit

KEY = "curator"
A_PICTURES = ("camera", "moon", "coins", "clock", "brick", "page", "text", "cell", "grass",
              "gravel", "chelsea", "coffee")  # fmt: skip
B_FILES = ("CT_small.dcm", "MR_small.dcm", "693_J2KR.dcm", "RG1_J2KR.dcm", "US1_J2KR.dcm",
           "OBXXXX1A.dcm", "MR2_J2KR.dcm", "RG3_J2KR.dcm")  # fmt: skip
NEW_PICTURES = ("rocket", "astronaut", "hubble_deep_field", "immunohistochemistry",
                "colorwheel", "retina")  # fmt: skip
A_TAKEN = ("camera", "moon", "coins", "clock", "brick", "page", "text")
B_TAKEN = ("CT_small.dcm", "MR_small.dcm", "RG1_J2KR.dcm", "US1_J2KR.dcm")


# --- accuracy ----------------------------------------------------------------------------


def _grey(name: str) -> np.ndarray:
    pixels = np.asarray(getattr(skimage.data, name)())
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=-1)
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    image.thumbnail((768, 768))
    return np.asarray(image)


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    return image.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.LANCZOS)


def _crop(image: Image.Image, keep: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def _gamma(image: Image.Image, gamma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64) / 255
    return Image.fromarray(np.asarray(255 * pixels**gamma, dtype=np.uint8))


def build_frankenstein(root: Path) -> tuple[Path, Path, Path, dict[str, int]]:
    a, b, f = root / "a", root / "b", root / "f"
    for folder in (a, b, f):
        folder.mkdir(parents=True)
    for name in A_PICTURES:
        Image.fromarray(_grey(name)).save(a / f"{name}.png")
    for name in B_FILES:
        found = get_testdata_file(name)
        assert found is not None, name
        shutil.copyfile(str(found), b / name)
    a_copies = [
        lambda i, out: shutil.copyfile(i, out.with_suffix(".png")),
        lambda i, out: Image.open(i).save(out.with_suffix(".jpg"), quality=80),
        lambda i, out: _scaled(Image.open(i), 0.6).save(out.with_suffix(".png")),
        lambda i, out: _crop(Image.open(i), 0.9).save(out.with_suffix(".png")),
        lambda i, out: _gamma(Image.open(i), 0.8).save(out.with_suffix(".png")),
        lambda i, out: _scaled(Image.open(i), 0.8).save(out.with_suffix(".jpg"), quality=70),
    ]
    for n, name in enumerate(A_TAKEN):
        a_copies[n % len(a_copies)](a / f"{name}.png", f / f"from-a-{name}")
    for n, name in enumerate(B_TAKEN):
        out = f / f"from-b-{Path(name).stem}"
        if n == 0:
            shutil.copyfile(b / name, out.with_suffix(".dcm"))
            continue
        export = Image.fromarray(eight_bit(b / name))
        if n == 1:
            export.save(out.with_suffix(".png"))
        elif n == 2:
            export.save(out.with_suffix(".jpg"), quality=85)
        else:
            _scaled(export, 0.7).save(out.with_suffix(".png"))
    for name in NEW_PICTURES:
        Image.fromarray(_grey(name)).save(f / f"new-{name}.png")
    truth = {"repo-a": len(A_TAKEN), "a@1": len(A_TAKEN), "repo-b": len(B_TAKEN),
             "b@1": len(B_TAKEN), "unseen": len(NEW_PICTURES)}  # fmt: skip
    return a, b, f, truth


def _register(ledger: Ledger, folder: Path, source: str, dataset: str) -> None:
    options = RegisterOptions(source=source, license="CC0-1.0", consent="waived", key=KEY,
                              dataset=dataset, workers=1)  # fmt: skip
    summary = register(ledger, [folder], options)
    assert not summary.refused, summary.refused


def _errors(found: Any, truth: dict[str, int]) -> dict[str, float]:
    total = found.total
    shares = {s.name: s.share for s in found.shares}
    out = {name: 100 * (shares.get(name, 0.0) - count / total) for name, count in truth.items()
           if name != "unseen"}  # fmt: skip
    out["unseen"] = 100 * (found.unseen_share - truth["unseen"] / total)
    for name, share in shares.items():
        if name not in truth:
            out[name] = 100 * share  # a source that contributed nothing
    return out


def accuracy(root: Path) -> dict[str, Any]:
    a, b, f, truth = build_frankenstein(root / "images")
    ledger = Ledger.init(root / "accuracy-ledger")
    ledger.add_key(KEY, "curator")
    try:
        _register(ledger, a, "repo-a", "a@1")
        _register(ledger, b, "repo-b", "b@1")
        index = prepare(ledger)
        folder = composition(ledger, resolve(ledger, [str(f)], workers=1), index=index)
        _register(ledger, f, "repo-c", "f@1")
        index = prepare(ledger)
        registered = composition(ledger, resolve(ledger, ["f@1"]), index=index)
    finally:
        ledger.store.engine.dispose()
    total = sum(1 for _ in f.iterdir())
    return {
        "images": total,
        "truth": {k: round(100 * v / total, 1) for k, v in truth.items()},
        "folder_error_points": {k: round(v, 1) for k, v in _errors(folder, truth).items()},
        "registered_error_points": {k: round(v, 1) for k, v in _errors(registered, truth).items()},
    }


# --- scale -------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _facts(picture: str, file: str) -> dict[str, Any]:
    return {
        "v": 1, "file_sha256": _sha(file), "file_size": 1, "format": "png",
        "pixel_sha256": _sha(picture), "pixel_form": "grey8", "frame_sha256": [],
        "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {}, "preamble": None,
    }  # fmt: skip


def _submit(ledger: Ledger, rows: list[tuple[str, str, str]], batch: int = 1000) -> None:
    key = ledger.signing_key(KEY)
    for start in range(0, len(rows), batch):
        envelopes = [
            ledger.sign(
                "image.registered",
                {
                    "source": s,
                    "license": "CC0-1.0",
                    "consent": "waived",
                    "dataset": d,
                    "image": _facts(p, f"{start + n}:{s}:{p}"),
                },
                key=key,
            )
            for n, (s, d, p) in enumerate(rows[start : start + batch])
        ]
        ledger.submit(envelopes)


TARGET_MIX = (0.25, 0.15, 0.10, 0.02, 0.02, 0.02, 0.02, 0.02)


def all_pairs(ledger: Ledger, target: str) -> tuple[float, dict[str, int]]:
    """Baseline: the target's groups against every registered source's and dataset's groups."""
    t0 = time.perf_counter()
    images, scans = ImageRow.__table__, DupScanRow.__table__  # type: ignore[attr-defined]
    with reading(ledger.store.engine) as conn:
        rows = conn.execute(
            select(images.c.idx, images.c.source, images.c.dataset, scans.c.group_idx).select_from(
                images.join(scans, images.c.idx == scans.c.idx)
            )
        ).all()
    sets: dict[str, set[int]] = defaultdict(set)
    first: dict[tuple[str, int], int] = {}
    mine: list[tuple[int, int]] = []
    for idx, source, dataset, group in rows:
        if dataset == target:
            mine.append((idx, group))
            continue
        for name in (source, dataset):
            if name is not None:
                sets[name].add(group)
                first[(name, group)] = min(first.get((name, group), idx), idx)
    counts = {
        name: sum(1 for idx, g in mine if g in groups and first[(name, g)] < idx)
        for name, groups in sets.items()
    }
    return time.perf_counter() - t0, {k: v for k, v in counts.items() if v}


def scale(root: Path, datasets: int, per_dataset: int, target: int) -> dict[str, Any]:
    rng = random.Random(5)
    ledger = Ledger.init(root / "scale-ledger")
    ledger.add_key(KEY, "curator")
    try:
        rows: list[tuple[str, str, str]] = []
        shared = [f"shared-{n}" for n in range(per_dataset * 5)]  # copies across datasets
        for d in range(datasets):
            own = [f"d{d}-{n}" for n in range(per_dataset - per_dataset // 10)]
            pictures = own + rng.sample(shared, per_dataset // 10)
            rows += [(f"site{d % 10}", f"set{d}@1", p) for p in pictures]
        take: list[str] = []
        truth: dict[str, int] = {}
        for d, share in enumerate(TARGET_MIX[: min(len(TARGET_MIX), datasets)]):
            count = min(round(share * target), per_dataset - per_dataset // 10)
            take += [f"d{d}-{n}" for n in range(count)]
            truth[f"set{d}@1"] = count
        take += [f"new-{n}" for n in range(target - len(take))]
        truth["unseen"] = target - sum(truth.values())
        rng.shuffle(take)
        t0 = time.perf_counter()
        _submit(ledger, rows)
        _submit(ledger, [("site-x", "frank@1", p) for p in take])
        appended = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = prepare(ledger)
        scanned = time.perf_counter() - t0
        frank = resolve(ledger, ["frank@1"])
        t0 = time.perf_counter()
        found = composition(ledger, frank, index=index)
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        resolve(ledger, ["frank@1"])
        resolved = time.perf_counter() - t0
        baseline, exact_counts = all_pairs(ledger, "frank@1")
    finally:
        ledger.store.engine.dispose()
    shares = {s.name: s for s in found.shares}
    errors = {
        name: round(100 * ((shares[name].images if name in shares else 0) - count) / target, 2)
        for name, count in truth.items()
        if name != "unseen"
    }
    errors["unseen"] = round(100 * (found.unseen - truth["unseen"]) / target, 2)
    agree = all(shares[name].images == exact_counts.get(name, 0) for name in shares)
    return {
        "registered_datasets": datasets,
        "images_per_dataset": per_dataset,
        "target_images": target,
        "log_entries": len(rows) + target,
        "append_s": round(appended, 1),
        "catch_up_scan_s": round(scanned, 1),
        "resolve_target_s": round(resolved, 2),
        "composition_s": round(took, 2),
        "baseline_all_pairs_s": round(baseline, 2),
        "listed": len(found.shares),
        "error_points": errors,
        "listed_shares_equal_all_pairs": agree,
    }


# --- unrelated images: new share, chained groups ------------------------------------------

REGISTERED_TILED = ("camera", "moon", "brick", "grass", "gravel", "coins", "cell", "retina",
                    "hubble_deep_field", "page", "text")  # fmt: skip
NEW_TILED = ("astronaut", "coffee", "chelsea", "immunohistochemistry", "rocket", "horse",
             "shepp_logan_phantom", "clock", "binary_blobs", "cat")  # fmt: skip
# skimage.data.cat() and chelsea() return the same pixels: their tiles are copies of each
# other, not unrelated originals (counted as one picture, never as a false link).
SAME_PICTURE = {"cat": "chelsea"}
TILE = 128
CHAINS = 8


def _grey_full(name: str) -> np.ndarray:
    pixels = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=-1)
    if pixels.max() <= 1:
        pixels = pixels * 255
    return grey8(pixels)


def _tiles(name: str, out: Path, limit: int = 24) -> list[Path]:
    """Non-overlapping tiles (each its own original: they share no pixel of the picture)."""
    pixels = _grey_full(name)
    side = TILE if min(pixels.shape) < 4 * TILE else 2 * TILE
    made: list[Path] = []
    for y in range(0, pixels.shape[0] - side + 1, side):
        for x in range(0, pixels.shape[1] - side + 1, side):
            if len(made) < limit:
                path = out / f"{name}-{y}-{x}.png"
                Image.fromarray(pixels[y : y + side, x : x + side]).save(path)
                made.append(path)
    return made


def unrelated(root: Path) -> dict[str, Any]:
    """Targets: a folder no repository holds is >= 99% new; no dups group holds two
    unrelated originals (tiles of large pictures, chains A ~ B ~ C, and real copies)."""
    reg, new, chains, copies = (root / n for n in ("registered", "new", "chains", "copies"))
    for folder in (reg, new, chains, copies):
        folder.mkdir(parents=True)
    family: dict[str, str] = {}  # file name -> its original
    related: set[frozenset[str]] = set()  # originals that are one picture's parts (A-B, B-C)
    for name in REGISTERED_TILED:
        family |= {p.name: p.stem for p in _tiles(name, reg)}
    for name in B_FILES:
        found = get_testdata_file(name)
        assert found is not None, name
        shutil.copyfile(str(found), reg / name)
        family[name] = name
    for name in NEW_TILED:
        same = SAME_PICTURE.get(name, name)
        family |= {p.name: p.stem.replace(name, same, 1) for p in _tiles(name, new)}
    for k in range(CHAINS):
        parts = chain(phase=k / CHAINS, seeds=(5 + 2 * k, 6 + 2 * k))
        for part, pixels in parts.items():
            Image.fromarray(grey8(pixels)).save(chains / f"chain{k}-{part}.png")
            family[f"chain{k}-{part}.png"] = f"chain{k}-{part}"
        related |= {frozenset((f"chain{k}-a", f"chain{k}-b")),
                    frozenset((f"chain{k}-b", f"chain{k}-c"))}  # fmt: skip
    # Real copies of every fourth registered tile and of each chain's A and C.
    originals = sorted(p for p in reg.iterdir() if p.suffix == ".png")[::4]
    originals += sorted(p for p in chains.iterdir() if not p.stem.endswith("-b"))
    for n, path in enumerate(originals):
        image = Image.open(path)
        out = copies / f"copy-{path.stem}"
        if n % 2:
            image.save(out.with_suffix(".jpg"), quality=80)
            family[out.with_suffix(".jpg").name] = family[path.name]
        else:
            _scaled(image, 0.8).save(out.with_suffix(".png"))
            family[out.with_suffix(".png").name] = family[path.name]
    ledger = Ledger.init(root / "unrelated-ledger")
    ledger.add_key(KEY, "curator")
    try:
        _register(ledger, reg, "repo-tiles", "tiles@1")
        _register(ledger, chains, "repo-chains", "chains@1")
        index = prepare(ledger)
        fresh = composition(ledger, resolve(ledger, [str(new)], workers=1), index=index)
        everything = resolve(ledger, [str(reg), str(new), str(chains), str(copies)], workers=1)
        t0 = time.perf_counter()
        groups = list(duplicate_groups(ledger, everything))
        grouping_s = time.perf_counter() - t0
    finally:
        ledger.store.engine.dispose()
    names = [Path(m.label).name for m in everything.members]

    def unrelated_pair(g: list[int]) -> bool:
        origins = sorted({family[names[i]] for i in g})
        return any(
            frozenset((x, y)) not in related
            for n, x in enumerate(origins)
            for y in origins[n + 1 :]
        )

    mixed = [sorted(names[i] for i in g.members) for g in groups if unrelated_pair(g.members)]
    # Pairs of unrelated originals put in one group, and how many of them were verified
    # directly (a false link of the verification) rather than joined through a chain.
    co_grouped = direct = 0
    for g in groups:
        verified = {frozenset((x.a, x.b)) for x in g.links}
        for n, i in enumerate(g.members):
            for j in g.members[n + 1 :]:
                x, y = family[names[i]], family[names[j]]
                if x != y and frozenset((x, y)) not in related:
                    co_grouped += 1
                    direct += frozenset((i, j)) in verified
    copy_pairs = {(family[n], n) for n in names if n.startswith("copy-")}
    together = sum(
        1 for origin, name in copy_pairs
        if any(name in {names[i] for i in g.members}
               and any(family[names[i]] == origin and names[i] != name for i in g.members)
               for g in groups)
    )  # fmt: skip
    return {
        "registered_images": sum(1 for _ in reg.iterdir()) + sum(1 for _ in chains.iterdir()),
        "new_folder_images": fresh.total,
        "new_share": round(100 * fresh.unseen_share, 2),
        "new_folder_attributed": {s.name: s.images for s in fresh.shares},
        "new_folder_false_matches": sorted(
            f"{Path(m.image).name} ~ entry {m.entry}: {m.detail}"
            for s in fresh.shares
            if s.kind == "source"
            for m in s.matched
        ),
        "dups_images": len(names),
        "dups_groups": len(groups),
        "dups_largest_group": max((len(g.members) for g in groups), default=0),
        "groups_with_unrelated_originals": len(mixed),
        "mixed_examples": mixed[:10],
        "unrelated_pairs_in_groups": co_grouped,
        "of_which_verified_directly": direct,
        "copies_grouped_with_their_original": f"{together}/{len(copy_pairs)}",
        "grouping_s": round(grouping_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 x 200 images, target 2,000")
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--target", type=int, default=10_000)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-unrelated", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.images, args.target = 20, 200, 2_000
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="medledger-composition-") as tmp:
        if not args.skip_accuracy:
            report["accuracy"] = accuracy(Path(tmp))
        if not args.skip_unrelated:
            report["unrelated"] = unrelated(Path(tmp) / "unrelated")
        if not args.skip_scale:
            report["scale"] = scale(Path(tmp), args.datasets, args.images, args.target)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    if "accuracy" in report:
        acc = report["accuracy"]
        print(f"Frankenstein accuracy ({acc['images']} images; truth in %: {acc['truth']})")
        for key in ("folder_error_points", "registered_error_points"):
            worst = max(abs(v) for v in acc[key].values())
            print(f"  {key}: {acc[key]}  (worst {worst:.1f} points)")
    if "unrelated" in report:
        u = report["unrelated"]
        print(
            f"Unrelated images ({u['registered_images']} registered: tiles, DICOM, chains)\n"
            f"  a folder no repository holds ({u['new_folder_images']} tiles): "
            f"{u['new_share']}% new (target >= 99); attributed: {u['new_folder_attributed']}\n"
            + "".join(f"    {line}\n" for line in u["new_folder_false_matches"])
            + f"  dups over {u['dups_images']} images: {u['dups_groups']} groups, largest "
            f"{u['dups_largest_group']}; groups with two unrelated originals: "
            f"{u['groups_with_unrelated_originals']} (target 0) {u['mixed_examples']}\n"
            f"  pairs of unrelated originals in one group: {u['unrelated_pairs_in_groups']}, "
            f"of which verified directly: {u['of_which_verified_directly']} (the rest chained)\n"
            f"  copies grouped with their original: {u['copies_grouped_with_their_original']};"
            f" grouping {u['grouping_s']} s"
        )
    if "scale" in report:
        s = report["scale"]
        print(
            f"Scale: {s['registered_datasets']} datasets x {s['images_per_dataset']} images "
            f"+ a {s['target_images']}-image target ({s['log_entries']} entries; append "
            f"{s['append_s']} s, catch-up scan {s['catch_up_scan_s']} s)\n"
            f"  composition: {s['composition_s']} s; resolving the target "
            f"{s['resolve_target_s']} s\n"
            f"  baseline all-pairs group comparison: {s['baseline_all_pairs_s']} s; "
            f"listed {s['listed']}\n"
            f"  error in points: {s['error_points']}; listed shares equal all-pairs counts: "
            f"{s['listed_shares_equal_all_pairs']}"
        )


if __name__ == "__main__":
    main()
