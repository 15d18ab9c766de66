"""A dataset profile as one self-contained HTML page: tables and inline SVG bars, no network.

Comparisons (against a reference or another version) are drawn as bars left (fewer) or right
(more) of a centre line, one per value, in share points; a withheld difference has no bar."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ledger.datasets.profile import Profile
from ledger.datasets.profilecompare import Comparison

_BAR_WIDTH = 320


def _bars(rows: list[tuple[str, float | None, str]]) -> str:
    """One horizontal bar per row (label, share or None when withheld, count shown)."""
    height = 22 * len(rows) + 4
    parts = [f'<svg width="{_BAR_WIDTH + 260}" height="{height}" role="img">']
    for n, (label, share, count) in enumerate(rows):
        y = 22 * n + 2
        width = 0 if not share else max(1, round(share * _BAR_WIDTH))
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{escape(label[:30])}</text>'
                     f'<rect x="200" y="{y}" width="{width}" height="18" fill="#4a7ab5"/>'
                     f'<text x="{206 + width}" y="{y + 15}" font-size="13">{escape(count)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _differences(rows: list[tuple[str, float | None]]) -> str:
    """One bar per (value, share points or None), centred at zero; 50 points span half."""
    half = _BAR_WIDTH // 2
    centre = 200 + half
    height = 22 * len(rows) + 4
    parts = [f'<svg width="{_BAR_WIDTH + 300}" height="{height}" role="img">',
             f'<line x1="{centre}" y1="0" x2="{centre}" y2="{height}" stroke="#888"/>']
    for n, (label, points) in enumerate(rows):
        y = 22 * n + 2
        shown = "withheld (&lt;5)" if points is None else f"{points:+.1f} pts"
        if points:
            width = max(1, min(half, round(abs(points) / 50 * half)))
            x = centre if points > 0 else centre - width
            colour = "#b5584a" if points > 0 else "#4a7ab5"
            parts.append(f'<rect x="{x}" y="{y}" width="{width}" height="18" fill="{colour}"/>')
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{escape(label[:30])}</text>'
                     f'<text x="{centre + half + 6}" y="{y + 15}" font-size="13">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _comparison(shown: dict[str, Any]) -> str:
    shared = (f" {shown['shared_members']} members are in both." if "shared_members" in shown
              else "")
    parts = [f"<h2>Against {escape(shown['against'])}</h2><p>Share points (this minus "
             f"{escape(shown['against'])}) among the members that record each attribute; "
             f"differences involving fewer than {shown['small_cell']} members are withheld."
             f"{shared}</p>"]
    for attribute in shown["attributes"]:
        rows = [(v["value"], v["difference_points"]) for v in attribute["values"]]
        parts.append(f"<h3>{escape(attribute['name'].replace('_', ' '))}</h3>"
                     + _differences(rows))
    return "".join(parts)


def profile_page(found: Profile, comparisons: Sequence[Comparison] = ()) -> str:
    shown = found.to_json()
    sections = []
    for attribute in shown["attributes"]:
        rows = [(v["value"], v["share"], str(v["count"])) for v in attribute["values"]]
        rows.append(("(not recorded)", attribute["missing_share"],
                     f"{attribute['missing_share']:.1%}"))
        sections.append(f"<h2>{escape(attribute['name'].replace('_', ' '))}</h2>{_bars(rows)}")
    title = escape(f"Profile of {found.label}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}</style>"
        f"</head><body><h1>{title}</h1><p>{found.members} members, from the signed "
        f"registrations. Counts under {shown['small_cell']} are shown as "
        f"&lt;{shown['small_cell']} and drawn without a bar.</p>"
        + "".join(sections) + "".join(_comparison(c.to_json()) for c in comparisons)
        + "</body></html>\n"
    )
