"""A small line chart drawn on the server as SVG: no script, so the pages' Content-Security-Policy
forbids every script. One point per interval, each with its date and count as a tooltip."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, MARGIN = 720, 180, 24


def line_chart(points: Sequence[tuple[str, int]]) -> Markup:
    """Points of (label, count), left to right, as an <svg> element."""
    if not points:
        return Markup("")
    most = max(count for _label, count in points)
    highest = max(most, 1)  # the scale: a line of zeros lies on the axis
    step = (WIDTH - 2 * MARGIN) / max(len(points) - 1, 1)
    placed = [
        (MARGIN + index * step, HEIGHT - MARGIN - count / highest * (HEIGHT - 2 * MARGIN), label, count)
        for index, (label, count) in enumerate(points)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _label, _count in placed)
    dots = "".join(
        f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1f5f99">'
        f"<title>{escape(label)}: {count}</title></circle>"
        for x, y, label, count in placed
    )
    axis = HEIGHT - MARGIN
    # The scale's top, said where the line could reach it: none for a line of zeros on the axis.
    # At the right, by the newest days, which a phone shows first (the chart scrolls there).
    top = (
        f'<text x="{WIDTH - MARGIN}" y="{MARGIN - 8}" font-size="13" fill="#5b6570" text-anchor="end">'
        f"{most}</text>"
        if most
        else ""
    )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{len(points)} points from {escape(points[0][0])} to {escape(points[-1][0])}, '
        f'{sum(count for _label, count in points)} in all, at most {most} at one point">'
        f'<line x1="{MARGIN}" y1="{axis}" x2="{WIDTH - MARGIN}" y2="{axis}" stroke="#d9dee3"/>{top}'
        f'<text x="{MARGIN}" y="{HEIGHT - 6}" font-size="13" fill="#5b6570">{escape(points[0][0])}</text>'
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 6}" font-size="13" fill="#5b6570" text-anchor="end">'
        f"{escape(points[-1][0])}</text>"
        f'<polyline points="{line}" fill="none" stroke="#1f5f99" stroke-width="1.5"/>{dots}</svg>'
    )
