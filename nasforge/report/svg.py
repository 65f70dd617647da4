"""Small inline-SVG charts for the report and the dashboard: no plotting library, no scripts, no network.

Every text that reaches the SVG (labels, tooltips) is escaped here, so callers may pass user strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Point", "scatter_chart"]

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 44
COLORS = {"point": "#4c78a8", "best": "#e45756", "line": "#e45756", "front": "#f58518", "failed": "#bbbbbb"}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    tip: str = ""
    kind: str = "point"  # point | best | front


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round numbers covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + 1e-9 * step:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


def _fmt(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.4g}"


class _Scale:
    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool) -> None:
        self.log = log and lo > 0
        f = math.log10 if self.log else float
        self.lo, self.hi = f(lo), f(hi)
        if self.hi <= self.lo:
            pad = abs(self.lo) * 0.05 or 1.0
            self.lo, self.hi = self.lo - pad, self.hi + pad
        self.a, self.b = a, b

    def __call__(self, v: float) -> float:
        u = math.log10(v) if self.log else v
        return self.a + (u - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if self.log:
            decades = range(math.floor(self.lo), math.ceil(self.hi) + 1)
            for steps in ((1,), (1, 3), (1, 2, 5)):  # denser when the data spans few decades
                ticks = [m * 10.0**e for e in decades for m in steps if self.lo <= math.log10(m * 10.0**e) <= self.hi]
                if len(ticks) >= 3:
                    return ticks
            return ticks
        return nice_ticks(self.lo, self.hi)


def scatter_chart(
    points: Sequence[Point],
    x_label: str,
    y_label: str,
    *,
    log_x: bool = False,
    step_line: Sequence[tuple[float, float]] = (),
    connect_front: bool = False,
    title: str = "",
) -> str:
    """An SVG scatter plot with axes; `step_line` draws a best-so-far staircase, `connect_front` joins the
    front points. Hovering a point shows its `tip`."""
    finite = [p for p in points if math.isfinite(p.x) and math.isfinite(p.y) and (p.x > 0 or not log_x)]
    label = escape(title or f"{y_label} against {x_label}")
    if not finite:
        return f'<p class="empty">No completed trials to plot ({label}).</p>'
    xs = [p.x for p in finite] + [x for x, _ in step_line]
    ys = [p.y for p in finite] + [y for _, y in step_line]
    x_pad = 0 if log_x else (max(xs) - min(xs)) * 0.03
    y_pad = (max(ys) - min(ys)) * 0.05
    sx = _Scale(min(xs) - x_pad, max(xs) + x_pad, LEFT, WIDTH - RIGHT, log_x)
    sy = _Scale(min(ys) - y_pad, max(ys) + y_pad, HEIGHT - BOTTOM, TOP, False)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
    ]
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="none" stroke="#ccc"/>'
    )
    for t in sx.ticks():
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(_fmt(t))}</text>')
    for t in sy.ticks():
        y = sy(t)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(t))}</text>')
    out.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'class="axis">{escape(x_label)}{" (log)" if sx.log else ""}</text>'
    )
    out.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2:.0f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2:.0f})">{escape(y_label)}</text>'
    )
    if step_line:
        (x0, y0), rest = step_line[0], step_line[1:]
        path = [f"M{sx(x0):.1f} {sy(y0):.1f}"] + [f"H{sx(x):.1f} V{sy(y):.1f}" for x, y in rest]
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{COLORS["line"]}" stroke-width="2"/>')
    if connect_front:
        front = sorted((p for p in finite if p.kind in ("front", "best")), key=lambda p: p.x)
        if len(front) > 1:
            pts = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in front)
            out.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS["front"]}" stroke-width="1.5"/>')
    order = {"point": 0, "front": 1, "best": 2}
    for p in sorted(finite, key=lambda p: order.get(p.kind, 0)):
        r = 5 if p.kind == "best" else 3.5
        color = COLORS.get(p.kind, COLORS["point"])
        tip = f"<title>{escape(p.tip)}</title>" if p.tip else ""
        out.append(
            f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{r}" fill="{color}" fill-opacity="0.8">{tip}</circle>'
        )
    out.append("</svg>")
    return "".join(out)
