"""A dataset profile as one self-contained HTML page: tables and inline SVG bars, no network."""

from __future__ import annotations

from html import escape

from ledger.datasets.profile import Profile

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


def profile_page(found: Profile) -> str:
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
        + "".join(sections) + "</body></html>\n"
    )
