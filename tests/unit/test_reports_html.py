"""HTML reports: well-formed, escaped, offline, deterministic; thumbnails decode as asked."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ledger.errors import InputError
from ledger.reports import (
    CompositionShare,
    ReportImage,
    composition_report,
    dups_report,
    leakage_report,
    thumbnail_data_uri,
)

GENERATED = "2025-06-01T12:00:00+00:00"
ATTACK = "<script>alert(1)</script>"
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class Tree(HTMLParser):
    """Records tags and checks nesting: every opened non-void tag closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.labels: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag == "code" and dict(attrs).get("class") == "label":
            self.labels.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))  # <rect .../> in SVG: opened and closed

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "code" and self.labels:
            self.labels[-1] += data


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert not tree.errors, tree.errors
    assert not tree.stack, f"unclosed: {tree.stack}"
    return tree


def tags(tree: Tree, name: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in tree.starts if tag == name]


def decode(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    assert image.format == "PNG"
    return image


@pytest.fixture(scope="module")
def thumb() -> str:
    return thumbnail_data_uri(np.arange(32 * 32, dtype=np.int64).reshape(32, 32) % 256)


def images(thumb: str) -> list[ReportImage]:
    return [
        ReportImage("scans/a.dcm", thumb, ("source: repo-a", "registered 2025-01-02")),
        ReportImage("sha256:" + "ab" * 32, None, ("dataset: chest@2",)),
        ReportImage(ATTACK, thumb, (ATTACK, "distance 3 & correlation 0.99")),
    ]


def shares() -> list[CompositionShare]:
    return [
        CompositionShare("repo-a", "source", 0.25, 25),
        CompositionShare(ATTACK, "dataset", 0.6, 60),
        CompositionShare("chest@2", "dataset", 0.05, 5),
    ]


def all_pages(thumb: str) -> dict[str, str]:
    a, b, c = images(thumb)
    return {
        "dups": dups_report(ATTACK, [[a, b], [c, a, b]], generated=GENERATED, notes=[ATTACK]),
        "leakage": leakage_report(
            ATTACK, [(a, b, ATTACK), (c, a, "mirror-lr")], generated=GENERATED, notes=[ATTACK]
        ),
        "composition": composition_report(
            ATTACK, shares(), 0.3, 100, generated=GENERATED, notes=[ATTACK]
        ),
    }


# ---- every page ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dups", "leakage", "composition"])
def test_page_is_well_formed_offline_and_marked(thumb: str, kind: str) -> None:
    page = all_pages(thumb)[kind]
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert {"name": "generator", "content": "medledger"} in tags(tree, "meta")
    assert "prefers-color-scheme: dark" in page
    assert f"<time>{GENERATED}</time>" in page
    # Nothing to fetch: no script, no stylesheet link, every picture inline.
    assert not tags(tree, "script") and not tags(tree, "link")
    assert all((i["src"] or "").startswith("data:image/png;base64,") for i in tags(tree, "img"))
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "url(" not in page and "@import" not in page


@pytest.mark.parametrize("kind", ["dups", "leakage", "composition"])
def test_user_text_appears_only_escaped(thumb: str, kind: str) -> None:
    page = all_pages(thumb)[kind]
    assert ATTACK not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not tags(parse(page), "script")


@pytest.mark.parametrize("kind", ["dups", "leakage", "composition"])
def test_output_is_deterministic(thumb: str, kind: str) -> None:
    assert all_pages(thumb)[kind] == all_pages(thumb)[kind]


# ---- duplicate groups ---------------------------------------------------------------------


def test_dups_report_shows_groups_side_by_side(thumb: str) -> None:
    a, b, c = images(thumb)
    groups = [[a, b], [c, a, b]]
    page = dups_report("dups", groups, generated=GENERATED)
    tree = parse(page)
    with_thumbs = sum(1 for g in groups for image in g if image.thumb is not None)
    assert page.count("<img") == len(tags(tree, "img")) == with_thumbs == 3
    assert page.count('class="placeholder"') == 2 and "no picture stored" in page
    assert [t["id"] for t in tags(tree, "section") if t.get("class") == "group"] == [
        "group-1",
        "group-2",
    ]
    assert "2 groups of duplicates, 5 images in groups." in page
    assert 'Group 2 <span class="size">3 images</span>' in page
    assert tree.labels == [a.label, b.label, ATTACK, a.label, b.label]
    assert "display: flex; flex-wrap: wrap" in page


def test_dups_report_with_no_groups_says_so() -> None:
    page = dups_report("none", [], generated=GENERATED)
    parse(page)
    assert "No duplicate groups found." in page and "<img" not in page


def test_empty_group_is_refused() -> None:
    with pytest.raises(InputError, match="at least one image"):
        dups_report("x", [[]], generated=GENERATED)


# ---- leakage ------------------------------------------------------------------------------


def test_leakage_report_has_one_row_per_pair(thumb: str) -> None:
    a, b, c = images(thumb)
    page = leakage_report(
        "leak", [(a, b, "near-duplicate: mirror-lr"), (c, a, "exact")], generated=GENERATED
    )
    tree = parse(page)
    assert [t["id"] for t in tags(tree, "tr") if t.get("id")] == ["pair-1", "pair-2"]
    assert page.count("<img") == 3 and page.count('class="placeholder"') == 1
    assert '<td class="why">near-duplicate: mirror-lr</td>' in page


def test_malformed_pair_is_refused(thumb: str) -> None:
    a, b, _ = images(thumb)
    with pytest.raises(InputError, match="a pair is"):
        leakage_report("leak", [(a, b)], generated=GENERATED)  # type: ignore[list-item]


# ---- composition --------------------------------------------------------------------------


def bars(page: str) -> list[dict[str, str | None]]:
    return [r for r in tags(parse(page), "rect") if "bar" in (r.get("class") or "").split()]


def test_chart_has_a_bar_per_share_plus_unseen_proportional_and_sorted() -> None:
    given_shares, unseen = shares(), 0.3
    page = composition_report("comp", given_shares, unseen, 100, generated=GENERATED)
    drawn = bars(page)
    assert len(drawn) == len(given_shares) + 1
    expected = [*sorted((s.share for s in given_shares), reverse=True), unseen]
    widths = [float(r["width"] or "nan") for r in drawn]
    ratios = [w / s for w, s in zip(widths, expected, strict=True)]
    assert max(ratios) - min(ratios) < 1e-3 * max(ratios)
    assert [(r["class"] or "").split()[1] for r in drawn] == [
        "dataset",
        "source",
        "dataset",
        "unseen",
    ]


def test_chart_and_table_label_name_kind_and_percentage() -> None:
    page = composition_report("comp", shares(), 0.3, 100, generated=GENERATED)
    assert "repo-a \u00b7 source \u00b7 25.0%" in page
    assert "chest@2 \u00b7 dataset \u00b7 5.0%" in page
    assert "seen nowhere before \u00b7 30.0%" in page
    assert '<tr><td>repo-a</td><td>source</td><td class="num">25</td>' in page
    assert '<td class="num">30</td><td class="num">30.0%</td>' in page  # unseen images
    assert "more than 100%" in page  # 0.25 + 0.6 + 0.05 + 0.3 > 1, and the page says why


def test_zero_and_tiny_shares_are_drawn_and_labelled_honestly() -> None:
    page = composition_report(
        "comp", [CompositionShare("a", "source", 0.0001, 1)], 0.0, 10_000, generated=GENERATED
    )
    assert [float(r["width"] or "nan") for r in bars(page)] == [0.06, 0.0]
    assert "a \u00b7 source \u00b7 &lt;0.1%" in page and "seen nowhere before \u00b7 0%" in page


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CompositionShare("a", "source", 1.5, 1), "0..1"),
        (lambda: CompositionShare("a", "source", float("nan"), 1), "0..1"),
        (lambda: CompositionShare("a", "repo", 0.5, 1), "kind"),  # type: ignore[arg-type]
        (lambda: CompositionShare("a", "source", 0.5, -1), "non-negative"),
        (lambda: CompositionShare("", "source", 0.5, 1), "name"),
        (lambda: composition_report("c", [], 1.2, 10, generated=GENERATED), "0..1"),
        (
            lambda: composition_report(
                "c", [CompositionShare("a", "source", 0.9, 9)], 0.2, 10, generated=GENERATED
            ),
            "exceeds 1",
        ),
        (
            lambda: composition_report(
                "c", [CompositionShare("a", "source", 0.5, 11)], 0.0, 10, generated=GENERATED
            ),
            "11 images of 10",
        ),
    ],
)
def test_bad_composition_is_refused(make: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        make()  # type: ignore[operator]


# ---- images and notes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "thumb",
    ["https://example.org/x.png", "data:text/html;base64,PHA+", "data:image/png;base64,<b>"],
)
def test_only_inline_pictures_are_accepted(thumb: str) -> None:
    with pytest.raises(InputError, match="data:image"):
        ReportImage("x", thumb, ())


def test_lines_and_notes_must_not_be_a_lone_string() -> None:
    with pytest.raises(InputError, match="tuple"):
        ReportImage("x", None, "source")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="one string"):
        dups_report("x", [], generated=GENERATED, notes="note")


def test_undecodable_file_names_become_replacement_characters() -> None:
    name = b"scan\xff\x01.dcm".decode("utf-8", "surrogateescape")
    page = dups_report("x", [[ReportImage(name, None, ())]], generated=GENERATED)
    page.encode("utf-8")  # a lone surrogate would raise here
    assert "scan\ufffd\ufffd.dcm" in page


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_arbitrary_labels_never_add_markup(label: str) -> None:
    def page(text: str) -> str:
        return dups_report(
            text, [[ReportImage(text, None, (text,))]], generated=GENERATED, notes=[text]
        )

    reference, rendered = page("x"), page(label)
    # Escaping never emits "<": any extra one would have come from the label.
    assert rendered.count("<") == reference.count("<")
    tree = parse(rendered)
    assert [t for t, _ in tree.starts] == [t for t, _ in parse(reference).starts]
    clean = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", "\ufffd", label)
    assert tree.labels == [clean]


# ---- thumbnails ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((32, 32), 128, (128, 128)),
        ((90, 60), 128, (85, 128)),  # (rows, columns) in; PIL size is (width, height)
        ((200, 300), 128, (128, 85)),
        ((3, 1000), 64, (64, 1)),  # the short side rounds but never vanishes
        ((10, 7), 100, (70, 100)),
    ],
)
def test_thumbnail_has_the_requested_long_side_and_keeps_aspect(
    shape: tuple[int, int], size: int, expected: tuple[int, int]
) -> None:
    rng = np.random.default_rng(7)
    image = decode(thumbnail_data_uri(rng.integers(0, 256, shape, dtype=np.uint8), size=size))
    assert image.mode == "L" and image.size == expected
    width, height = image.size
    assert max(width, height) == size
    # The short side is the exact scaled length rounded (at least one pixel).
    exact = min(shape) * size / max(shape)
    assert min(width, height) == max(1, round(exact)) and abs(min(width, height) - exact) <= 1


def test_grid_upscales_by_nearest_neighbour_into_blocks() -> None:
    grid = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    out = np.asarray(decode(thumbnail_data_uri(grid, size=128)))
    assert np.array_equal(out, np.kron(grid, np.ones((4, 4), dtype=np.uint8)))
    uneven = np.asarray(decode(thumbnail_data_uri(grid, size=100)))  # no new grey levels
    assert set(np.unique(uneven)) <= set(np.unique(grid))


def test_downscaling_averages_areas() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = np.asarray(decode(thumbnail_data_uri(checker, size=32)))
    assert np.all(np.abs(out.astype(int) - 128) <= 1)  # nearest would give 0 or 255


def test_float_pixels_are_rounded_and_thumbnails_are_deterministic() -> None:
    values = np.full((4, 4), 99.6, dtype=np.float32)
    values[0, 0] = 255.2  # rounding overshoot of an area average is tolerated
    uri = thumbnail_data_uri(values, size=4)
    out = np.asarray(decode(uri))
    assert out[0, 0] == 255 and np.all(out.ravel()[1:] == 100)
    assert thumbnail_data_uri(values, size=4) == uri


@pytest.mark.parametrize(
    ("pixels", "match"),
    [
        (np.zeros((8, 8, 3), dtype=np.uint8), "2-D"),
        (np.zeros(8, dtype=np.uint8), "2-D"),
        (np.zeros((), dtype=np.uint8), "2-D"),
        (np.zeros((0, 8), dtype=np.uint8), "needs pixels"),
        (np.full((2, 2), np.nan), "finite"),
        (np.full((2, 2), 300.0), "0..255"),
        (np.full((2, 2), -1, dtype=np.int16), "0..255"),
        (np.zeros((2, 2), dtype=bool), "dtype"),
    ],
)
def test_bad_pixels_are_refused(pixels: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        thumbnail_data_uri(pixels)


@pytest.mark.parametrize("size", [0, -1, 1025, 2.5, True])
def test_bad_size_is_refused(size: object) -> None:
    with pytest.raises(InputError, match="size"):
        thumbnail_data_uri(np.zeros((2, 2), dtype=np.uint8), size=size)  # type: ignore[arg-type]
