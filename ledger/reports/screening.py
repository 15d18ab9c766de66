"""The page ``inspect --html`` writes: each image's signals, self-contained, no script.

Same rules as ``ledger.reports.html``: every text escaped, no fetch allowed (CSP), the same
input gives the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_COLOURS = {"none": "#2e7d32", "low": "#f9a825", "medium": "#ef6c00", "high": "#c62828"}


def _e(text: object) -> str:
    return html.escape("".join(c if c.isprintable() else "\ufffd" for c in str(text)))


def screening_page(results: Sequence[dict[str, Any]]) -> str:
    """``results``: what ``inspect --json`` prints, one item per image."""
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">",
        "<title>medledger inspect</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left;vertical-align:top}.lv{color:#fff;padding:1px 6px;border-radius:3px}"
        "</style></head><body><h1>Screening for generated or altered images</h1>",
        "<p>A screening signal, never a verdict: \"suspected\" means a signal was found; "
        "\"no signal found\" never shows that an image is unaltered (docs/forensics.md).</p>",
    ]
    for item in results:
        level = str(item["level"])
        verdict = "no signal found" if level == "none" else f"suspected ({level})"
        colour = _COLOURS.get(level, "#555")
        parts.append(f"<h2>{_e(item['path'])}</h2><p><span class=\"lv\" "
                     f"style=\"background:{colour}\">{_e(verdict)}</span></p>")
        if item["signals"]:
            parts.append("<table><tr><th>signal</th><th>level</th><th>score</th>"
                         "<th>evidence</th></tr>")
            for s in item["signals"]:
                parts.append(f"<tr><td>{_e(s['name'])}</td><td>{_e(s['level'])}</td>"
                             f"<td>{_e(s['score'])}</td><td>{_e(s['evidence'])}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
