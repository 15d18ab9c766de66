"""Self-contained HTML5 reports: duplicate groups, train/test leakage, dataset composition.

Each renderer returns one complete document as a string. The page needs nothing
but itself: styles are inline, pictures are ``data:`` URIs, there is no script,
and a Content-Security-Policy forbids fetching anything, so the report works
offline and cannot call home even if a future bug let markup through.

Every text (titles, labels, captions, names, notes) comes from users or file
names and is escaped; control characters and lone surrogates (undecodable file
name bytes) become U+FFFD so the page stays valid UTF-8. The same input gives
the same bytes.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ledger.errors import InputError

_DATA_URI = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}", re.ASCII)
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

_CHART_WIDTH = 600  # px of a 100% bar
_ROW = 46  # px per bar: label line, then the bar
_NAME_CHARS = 48  # longer names are cut in the chart (the table and tooltip have them whole)

UNSEEN = "seen nowhere before"
_MANY = "registered sources and datasets"


@dataclass(frozen=True)
class ReportImage:
    """One image in a report: a label (path or digest), its thumbnail if any, caption lines."""

    label: str
    thumb: str | None
    lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise InputError("an image needs a non-empty label", subject="report")
        # Only inline pictures: a URL would make the page fetch, and fail offline.
        if self.thumb is not None and (
            not isinstance(self.thumb, str) or not _DATA_URI.fullmatch(self.thumb)
        ):
            raise InputError(
                "thumb must be a base64 data:image/ URI or None", subject=_clean(self.label)
            )
        if not isinstance(self.lines, tuple) or not all(isinstance(x, str) for x in self.lines):
            raise InputError("lines must be a tuple of strings", subject=_clean(self.label))


@dataclass(frozen=True)
class CompositionShare:
    """The fraction ``share`` (0..1) of the dataset's images, ``images`` of them, found in one
    registered source (repository) or dataset version."""

    name: str
    kind: Literal["source", "dataset"]
    share: float
    images: int
    # (image of the dataset, the registered entry it duplicates, why): what a curator acts on
    matched: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("a composition share needs a non-empty name", subject="report")
        _check_rows(self.matched, _clean(self.name))
        if self.kind not in ("source", "dataset"):
            raise InputError(
                f"kind must be 'source' or 'dataset', got {self.kind!r}", subject=_clean(self.name)
            )
        _check_fraction(self.share, _clean(self.name))
        _check_count(self.images, _clean(self.name))


def dups_report(
    title: str,
    groups: Sequence[Sequence[ReportImage]],
    *,
    generated: str,
    notes: Sequence[str] = (),
    pairs: Sequence[Sequence[tuple[str, str, str]]] = (),
    between: Sequence[tuple[str, str, str]] = (),
) -> str:
    """Groups of duplicates, the images of each side by side, then the verified pairs
    (a, b, why) behind each group (``pairs``, one list per group) and those between groups."""
    checked = [_images(group, f"group {n}") for n, group in enumerate(groups, 1)]
    if pairs and len(pairs) != len(checked):
        raise InputError(f"{len(pairs)} lists of pairs for {len(checked)} groups", subject="report")
    for n, rows in enumerate(pairs, 1):
        _check_rows(rows, f"group {n}")
    _check_rows(between, "between groups")
    for n, group in enumerate(checked, 1):
        if not group:
            raise InputError("a duplicate group needs at least one image", subject=f"group {n}")
    members = sum(len(g) for g in checked)
    body = [
        '<section class="summary">',
        f"<p>{_plural(len(checked), 'group')} of duplicates, "
        f"{_plural(members, 'image')} in groups.</p>",
        "</section>",
    ]
    if not checked:
        body.append('<p class="empty">No duplicate groups found.</p>')
    for n, group in enumerate(checked, 1):
        body += [
            f'<section class="group" id="group-{n}">',
            f'<h2>Group {n} <span class="size">{_plural(len(group), "image")}</span></h2>',
            '<div class="images">',
            *(_figure(image) for image in group),
            "</div>",
            *(_rows_table(pairs[n - 1], ("Image", "Verified against", "Why")) if pairs else []),
            "</section>",
        ]
    if between:
        body += [
            '<section class="between">',
            "<h2>Verified pairs between groups</h2>",
            '<p class="caveat">Each pair verified, but its two images are not in one group: '
            "a group holds only images verified against every other member.</p>",
            *_rows_table(between, ("Image", "Verified against", "Why")),
            "</section>",
        ]
    return _page(title, "Duplicate groups", body, generated=generated, notes=notes)


def leakage_report(
    title: str,
    pairs: Sequence[tuple[ReportImage, ReportImage, str]],
    *,
    generated: str,
    notes: Sequence[str] = (),
) -> str:
    """Train/test leakage: one row per pair, train image | test image | why they match."""
    rows: list[str] = []
    for n, pair in enumerate(pairs, 1):
        if not isinstance(pair, tuple) or len(pair) != 3:
            raise InputError("a pair is (train image, test image, why)", subject=f"pair {n}")
        train, test, why = pair
        _images((train, test), f"pair {n}")
        _check_str(why, f"pair {n}")
        rows += [
            f'<tr id="pair-{n}">',
            f'<th scope="row">{n}</th>',
            f"<td>{_figure(train)}</td>",
            f"<td>{_figure(test)}</td>",
            f'<td class="why">{_text(why)}</td>',
            "</tr>",
        ]
    body = [
        '<section class="summary">',
        f"<p>{_plural(len(pairs), 'pair')} of a training image and a test image "
        "that show the same picture.</p>",
        "</section>",
    ]
    if not pairs:
        body.append('<p class="empty">No leakage found.</p>')
    else:
        body += [
            '<table class="pairs">',
            "<thead>",
            '<tr><th scope="col">#</th><th scope="col">Train</th>'
            '<th scope="col">Test</th><th scope="col">Why</th></tr>',
            "</thead>",
            "<tbody>",
            *rows,
            "</tbody>",
            "</table>",
        ]
    return _page(title, "Train/test leakage", body, generated=generated, notes=notes)


def composition_report(
    title: str,
    shares: Sequence[CompositionShare],
    unseen_share: float,
    total: int,
    *,
    generated: str,
    notes: Sequence[str] = (),
) -> str:
    """What a dataset is made of: a bar chart and a table of the share of each source/dataset."""
    _check_fraction(unseen_share, UNSEEN)
    _check_count(total, "total")
    for n, share in enumerate(shares, 1):
        if not isinstance(share, CompositionShare):
            raise InputError("expected a CompositionShare", subject=f"share {n}")
        if share.images > total:
            raise InputError(f"{share.images} images of {total}", subject=_clean(share.name))
        # An image seen in a source is not unseen: the two are disjoint parts of the dataset.
        if share.share + unseen_share > 1 + 1e-9:
            raise InputError(
                f"share {share.share:g} plus unseen share {unseen_share:g} exceeds 1",
                subject=_clean(share.name),
            )
    ordered = sorted(shares, key=lambda s: (-s.share, s.kind, s.name, s.images))
    unseen_images = round(unseen_share * total)
    body = [
        '<section class="summary">',
        f"<p>{_plural(total, 'image')} in the dataset; "
        f"{_percent(unseen_share)} seen nowhere before; "
        f"found in {_plural(len(ordered), 'registered source or dataset', _MANY)}.</p>",
        '<p class="caveat">Shares can add up to more than 100%: one image can be found in '
        "several sources and datasets, and it counts for each of them.</p>",
        "</section>",
        '<section class="chart">',
        "<h2>Composition</h2>",
        _chart(ordered, unseen_share, unseen_images),
        "</section>",
        '<section class="table">',
        "<h2>Numbers</h2>",
        "<table>",
        "<thead>",
        '<tr><th scope="col">Name</th><th scope="col">Kind</th>'
        '<th scope="col">Images</th><th scope="col">Share</th></tr>',
        "</thead>",
        "<tbody>",
        *(_share_row(s.name, s.kind, s.images, s.share) for s in ordered),
        _share_row(UNSEEN, "", unseen_images, unseen_share, css="unseen"),
        "</tbody>",
        "<tfoot>",
        _share_row("the whole dataset", "", total, 1.0),
        "</tfoot>",
        "</table>",
        "</section>",
    ]
    listed = [s for s in ordered if s.matched]
    if listed:
        body += ['<section class="matched">', "<h2>Matched images</h2>"]
        for s in listed:
            body += [
                f'<h3>{_text(s.name)} <span class="size">{_text(s.kind)}, '
                f"{_plural(s.images, 'image')}</span></h3>",
                *_rows_table(s.matched, ("Image in this dataset", "Registered entry", "Why")),
            ]
        body.append("</section>")
    return _page(title, "Dataset composition", body, generated=generated, notes=notes)


def _rows_table(rows: Sequence[tuple[str, str, str]], heads: tuple[str, str, str]) -> list[str]:
    head = "".join(f'<th scope="col">{_text(h)}</th>' for h in heads)
    return [
        '<table class="rows">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *(
            f"<tr><td><code>{_text(a)}</code></td><td><code>{_text(b)}</code></td>"
            f'<td class="why">{_text(why)}</td></tr>'
            for a, b, why in rows
        ),
        "</tbody>",
        "</table>",
    ]


def _check_rows(rows: object, where: str) -> None:
    if isinstance(rows, str) or not isinstance(rows, Sequence):
        raise InputError("expected a sequence of (text, text, text) rows", subject=where)
    for row in rows:
        if not (isinstance(row, tuple) and len(row) == 3 and all(isinstance(x, str) for x in row)):
            raise InputError("a row is a tuple of three strings", subject=where)


def _chart(ordered: Sequence[CompositionShare], unseen: float, unseen_images: int) -> str:
    """A horizontal bar chart as inline SVG, the unseen part last in its own colour."""
    bars: list[tuple[str, str, float, int]] = [(s.name, s.kind, s.share, s.images) for s in ordered]
    bars.append((UNSEEN, "unseen", unseen, unseen_images))
    height = _ROW * len(bars) + 4
    parts = [
        f'<svg class="bars" role="img" aria-labelledby="chart-title" width="{_CHART_WIDTH}" '
        f'height="{height}" viewBox="0 0 {_CHART_WIDTH} {height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Share of the dataset\'s images found in each registered '
        "source and dataset, and seen nowhere before</title>",
    ]
    for row, (name, kind, share, images) in enumerate(bars):
        top = row * _ROW
        shown = _clean(name)
        if len(shown) > _NAME_CHARS:
            shown = shown[: _NAME_CHARS - 1] + "\u2026"
        # The unseen bar's name already says what it is; the others name their kind.
        tag = "" if kind == "unseen" else f" \u00b7 {kind}"
        label = f"{shown}{tag} \u00b7 {_percent(share)}"
        full = f"{_clean(name)}{tag}: {_percent(share)}, {_plural(images, 'image')}"
        parts += [
            "<g>",
            f"<title>{html.escape(full)}</title>",
            f'<text x="0" y="{top + 16}">{html.escape(label)}</text>',
            f'<rect class="track" x="0" y="{top + 22}" width="{_CHART_WIDTH}" height="16"/>',
            f'<rect class="bar {kind}" x="0" y="{top + 22}" '
            f'width="{share * _CHART_WIDTH:.3f}" height="16"/>',
            "</g>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _share_row(name: str, kind: str, images: int, share: float, *, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return (
        f"<tr{cls}><td>{_text(name)}</td><td>{_text(kind)}</td>"
        f'<td class="num">{images:,}</td><td class="num">{_percent(share)}</td></tr>'
    )


def _figure(image: ReportImage) -> str:
    """One image: thumbnail (or a placeholder), its label and caption lines."""
    if image.thumb is None:
        picture = (
            '<div class="placeholder" role="img" aria-label="no picture stored">'
            "<span>no picture stored</span></div>"
        )
    else:
        picture = (
            f'<img src="{html.escape(image.thumb)}" alt="{_text("thumbnail of " + image.label)}">'
        )
    lines = "".join(f"<li>{_text(line)}</li>" for line in image.lines)
    return (
        f'<figure class="image">{picture}<figcaption>'
        f'<code class="label">{_text(image.label)}</code>'
        + (f'<ul class="lines">{lines}</ul>' if lines else "")
        + "</figcaption></figure>"
    )


def _page(
    title: str, kind: str, body: Iterable[str], *, generated: str, notes: Sequence[str]
) -> str:
    _check_str(title, "title")
    _check_str(generated, "generated")
    if isinstance(notes, str):  # a lone string would render one note per character
        raise InputError("notes must be a sequence of strings, not one string", subject="notes")
    for note in notes:
        _check_str(note, "notes")
    note_list = (
        [
            '<section class="notes">',
            "<h2>Notes</h2>",
            "<ul>",
            *(f"<li>{_text(n)}</li>" for n in notes),
            "</ul>",
            "</section>",
        ]
        if notes
        else []
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="medledger">',
        '<meta name="color-scheme" content="light dark">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_text(title)} \u2014 {_text(kind)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<p class="kind">medledger \u00b7 {_text(kind)}</p>',
        f"<h1>{_text(title)}</h1>",
        "</header>",
        "<main>",
        *note_list,
        *body,
        "</main>",
        "<footer>",
        f"<p>Generated by medledger at <time>{_text(generated)}</time>.</p>",
        "<p>This report contains thumbnails of the images. Keep it and share it only as "
        "you would the images themselves.</p>",
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _clean(value: str) -> str:
    """Replace characters that cannot appear in a valid UTF-8 HTML page."""
    return _UNPRINTABLE.sub("\ufffd", value)


def _text(value: str) -> str:
    return html.escape(_clean(value), quote=True)


def _images(group: Iterable[ReportImage], where: str) -> list[ReportImage]:
    items = list(group)
    for image in items:
        if not isinstance(image, ReportImage):
            raise InputError(f"expected a ReportImage, got {type(image).__name__}", subject=where)
    return items


def _check_str(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", subject=where)


def _check_fraction(value: object, where: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise InputError(f"a share must be a fraction in 0..1, got {value!r}", subject=where)


def _check_count(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"a count must be a non-negative integer, got {value!r}", subject=where)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _percent(share: float) -> str:
    # Never print 0.0% for a present share or 100.0% for an incomplete one.
    if share == 0 or share == 1:
        return f"{share * 100:.0f}%"
    if share < 0.0005:
        return "<0.1%"
    if share > 0.9995:
        return ">99.9%"
    return f"{share * 100:.1f}%"


_CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1d1d1f; --muted: #5b5b63;
  --line: #d4d4d8; --card: #f4f4f5; --placeholder: #8e8e93; --on-placeholder: #ffffff;
  --source: #2563a8; --dataset: #b45309; --unseen: #4d7c0f; --track: #e7e7ea; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #161618; --fg: #ececef; --muted: #a1a1aa; --line: #3f3f46;
    --card: #232326; --placeholder: #5b5b63; --on-placeholder: #f4f4f5;
    --source: #60a5fa; --dataset: #fbbf24; --unseen: #a3e635; --track: #2e2e33; } }
body { background: var(--bg); color: var(--fg); margin: 0 auto; max-width: 72rem;
  padding: 1rem 1.5rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header .kind, footer, .lines, .size { color: var(--muted); }
h1 { margin: 0.2rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
.size { font-weight: normal; font-size: 0.9rem; margin-left: 0.5rem; }
.caveat { font-style: italic; }
.group { border-top: 1px solid var(--line); }
.images { display: flex; flex-wrap: wrap; gap: 0.75rem; }
figure.image { margin: 0; padding: 0.5rem; width: 10.5rem; background: var(--card);
  border: 1px solid var(--line); border-radius: 6px; }
figure.image img { display: block; max-width: 100%; height: auto; image-rendering: pixelated;
  margin: 0 auto; }
.placeholder { width: 128px; height: 128px; max-width: 100%; margin: 0 auto; display: flex;
  align-items: center; justify-content: center; text-align: center; font-size: 0.8rem;
  background: var(--placeholder); color: var(--on-placeholder); }
figcaption { margin-top: 0.4rem; font-size: 0.8rem; }
.label { overflow-wrap: anywhere; font-size: 0.78rem; }
.lines { margin: 0.3rem 0 0; padding-left: 1rem; overflow-wrap: anywhere; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid var(--line); padding: 0.4rem 0.6rem; text-align: left;
  vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.why { overflow-wrap: anywhere; max-width: 28rem; }
tfoot td { font-weight: bold; }
svg.bars { max-width: 100%; height: auto; }
svg.bars text { fill: var(--fg); font-size: 14px; }
svg.bars .track { fill: var(--track); }
svg.bars .source { fill: var(--source); }
svg.bars .dataset { fill: var(--dataset); }
svg.bars .unseen { fill: var(--unseen); }
footer { border-top: 1px solid var(--line); margin-top: 2rem; font-size: 0.85rem; }
"""
