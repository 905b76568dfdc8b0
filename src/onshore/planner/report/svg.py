"""Minimal SVG charts (no plotting dependency): line charts and horizontal bar charts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

W, H, PAD = 640, 360, 56
SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
    'font-family="sans-serif" font-size="12">'
)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _scale(lo: float, hi: float, a: float, b: float, log: bool) -> tuple[float, float, bool]:
    if log:
        lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, log


def _map(v: float, s: tuple[float, float, bool], a: float, b: float) -> float:
    lo, hi, log = s
    x = math.log10(max(v, 1e-12)) if log else v
    return a + (x - lo) / (hi - lo) * (b - a)


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    hlines: Sequence[tuple[str, float]] = (),
    log_y: bool = False,
) -> str:
    """An SVG line chart of named ``(x, y)`` series, with optional labelled horizontal lines."""
    pts = [p for _, s in series for p in s]
    if not pts:
        return SVG_OPEN.format(w=W, h=40) + f'<text x="8" y="24">{escape(title)}: no data</text></svg>'
    ys = [p[1] for p in pts] + [v for _, v in hlines]
    sx = _scale(min(p[0] for p in pts), max(p[0] for p in pts), PAD, W - PAD, False)
    sy = _scale(min(ys) if log_y else 0.0, max(ys) * 1.05, H - PAD, PAD, log_y)
    out = [
        SVG_OPEN.format(w=W, h=H),
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="black"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="black"/>',
        f'<text x="{W / 2}" y="{H - 16}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">'
        f"{escape(y_label)}</text>",
    ]
    for frac in (0.0, 0.5, 1.0):
        xv = sx[0] + frac * (sx[1] - sx[0])
        yv = sy[0] + frac * (sy[1] - sy[0])
        yv = 10**yv if log_y else yv
        out.append(
            f'<text x="{_map(xv, sx, PAD, W - PAD)}" y="{H - PAD + 16}" text-anchor="middle">{xv:.3g}</text>'
        )
        out.append(
            f'<text x="{PAD - 4}" y="{_map(yv, sy, H - PAD, PAD) + 4}" text-anchor="end">{yv:.3g}</text>'
        )
    for i, (name, val) in enumerate(hlines):
        y = _map(val, sy, H - PAD, PAD)
        out.append(
            f'<line x1="{PAD}" y1="{y}" x2="{W - PAD}" y2="{y}" stroke="{COLOURS[(i + 3) % 6]}" '
            'stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{W - PAD}" y="{y - 4}" text-anchor="end">{escape(name)}</text>')
    for i, (name, s) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(
            f"{_map(x, sx, PAD, W - PAD):.1f},{_map(y, sy, H - PAD, PAD):.1f}" for x, y in sorted(s)
        )
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        out.append(f'<text x="{PAD + 8}" y="{PAD + 14 * (i + 1)}" fill="{colour}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, unit: str, bars: Sequence[tuple[str, float]]) -> str:
    """A horizontal SVG bar chart."""
    height = PAD + 24 * max(len(bars), 1) + 20
    top = max((v for _, v in bars), default=1.0) or 1.0
    out = [
        SVG_OPEN.format(w=W, h=height),
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    left = 200
    for i, (name, v) in enumerate(bars):
        y = PAD + 24 * i
        width = (W - left - 90) * v / top
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{width:.1f}" height="18" fill="{COLOURS[i % 6]}"/>')
        out.append(f'<text x="{left + width + 4}" y="{y + 14}">{v:,.3g} {escape(unit)}</text>')
    out.append("</svg>")
    return "\n".join(out)
