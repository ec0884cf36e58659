"""The trend of data-quality scores as inline SVG (no script, no external resource: the gateway runs offline) and
as a table: one line per dimension across months, for the HTML quality report and the monthly axis report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from gateway.quality.history import MonthScores, dimension_series
from gateway.quality.monthly import MonthQuality
from gateway.quality.rules import Dimension

__all__ = ["DIMENSION_COLOURS", "month_quality_html", "month_quality_text", "trend_svg", "trend_table"]

DIMENSION_COLOURS: Final = {
    Dimension.CORRECT: "#0b3d91",
    Dimension.COMPLETE: "#1a7f37",
    Dimension.CLEAN: "#8250df",
    Dimension.LIVE: "#bc4c00",
}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def trend_svg(months: Sequence[MonthScores], *, label: str = "Xu hướng chất lượng dữ liệu / Data-quality trend") -> str:
    """A line chart of the dimension scores over ``months`` (0 to 100 %), a dot and its value per month."""
    if not months:
        return ""
    left, top, width, height, bottom = 60, 20, 720, 220, 50
    columns = max(len(months) - 1, 1)

    def x(index: int) -> float:
        return left + (width * index / columns if len(months) > 1 else width / 2)

    def y(value: float) -> float:
        return top + height * (1 - value)

    parts = [
        f'<svg role="img" aria-label="{escape(label)}" width="100%" '
        f'viewBox="0 0 {left + width + 150} {top + height + bottom}" class="trend">'
    ]
    for step in range(0, 101, 25):
        level = y(step / 100)
        parts.append(
            f'<line x1="{left}" y1="{level:.1f}" x2="{left + width}" y2="{level:.1f}" stroke="#d8dee4"/>'
            f'<text x="{left - 8}" y="{level + 4:.1f}" font-size="12" text-anchor="end">{step} %</text>'
        )
    for index, month in enumerate(months):
        parts.append(
            f'<text x="{x(index):.1f}" y="{top + height + 20}" font-size="12" text-anchor="middle">'
            f"{escape(month.month)}</text>"
        )
    for row, (dimension, values) in enumerate(dimension_series(months).items()):
        colour = DIMENSION_COLOURS[dimension]
        points = [(x(i), y(v), v) for i, v in enumerate(values) if v is not None]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(
            f'<polyline class="trend-{dimension.value}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'points="{path}"/>'
        )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}"><title>{escape(dimension.title_vi)} / '
            f"{dimension.value}: {_percent(v)}</title></circle>"
            for px, py, v in points
        ]
        legend_y = top + 20 + row * 22
        parts.append(
            f'<rect x="{left + width + 16}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + width + 34}" y="{legend_y}" font-size="13">{escape(dimension.title_vi)} / '
            f"{escape(dimension.value.capitalize())}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def trend_table(months: Sequence[MonthScores]) -> str:
    """The months' figures: one row per month, the scans made and each dimension's score, with the change from the
    month before."""
    head = "".join(
        f'<th>{escape(d.title_vi)} <span class="en">/ {escape(d.value.capitalize())}</span></th>' for d in Dimension
    )
    rows = []
    previous: MonthScores | None = None
    for month in months:
        cells = []
        for dimension in Dimension:
            value = month.dimensions.get(dimension)
            before = previous.dimensions.get(dimension) if previous is not None else None
            change = (
                f' <span class="note">({(value - before) * 100:+.1f})</span>'
                if value is not None and before is not None
                else ""
            )
            cells.append(f'<td class="num">{_percent(value)}{change}</td>')
        rows.append(f'<tr><td>{escape(month.month)}</td><td class="num">{month.scans}</td>{"".join(cells)}</tr>')
        previous = month
    return (
        '<table class="trend-table"><tr><th>Tháng <span class="en">/ Month</span></th>'
        f'<th>Lần quét <span class="en">/ Scans</span></th>{head}</tr>{"".join(rows)}</table>'
    )


def _points(change: float | None) -> str:
    return "" if change is None else f' <span class="note">({change * 100:+.1f})</span>'


def month_quality_html(quality: MonthQuality) -> str:
    """The monthly report's data-quality section: the province's trend, then each database's scores at the month's
    end with the change from the month before (points), and its number of scans."""
    title = (
        '<h2>Chất lượng dữ liệu <span class="en">/ Data quality</span></h2>'
        '<p class="note">Đúng, đủ, sạch, sống: tỷ lệ bản ghi đạt, theo lần quét cuối cùng của tháng; trong ngoặc: '
        "thay đổi so với tháng trước (điểm phần trăm).<br>Correct, complete, clean, live: the share of passing "
        "records at the month's last scan; in brackets: the change from the month before (points).</p>"
    )
    if not quality.databases:
        return (
            f"<section id='quality'>{title}<p>Chưa có lần quét chất lượng dữ liệu nào trong 12 tháng qua "
            '<span class="en">/ No data-quality scan in the last twelve months.</span></p></section>'
        )
    head = "".join(
        f'<th>{escape(d.title_vi)} <span class="en">/ {escape(d.value.capitalize())}</span></th>' for d in Dimension
    )
    rows = "".join(
        f"<tr><td>{escape(db.name or db.id)}<br><span class='note mono'>{escape(db.id)}</span></td>"
        f'<td class="num">{db.scans}</td>'
        + "".join(f'<td class="num">{_percent(db.scores.get(d))}{_points(db.change.get(d))}</td>' for d in Dimension)
        + "</tr>"
        for db in quality.databases
    )
    average = (
        "<tr><td><b>Trung bình</b> <span class='en'>/ Mean</span></td>"
        f'<td class="num">{quality.scanned}</td>'
        + "".join(
            f'<td class="num"><b>{_percent(quality.average.get(d))}</b>{_points(quality.average_change.get(d))}</td>'
            for d in Dimension
        )
        + "</tr>"
    )
    return (
        f"<section id='quality'>{title}"
        f"{trend_svg(quality.trend, label='Xu hướng chất lượng dữ liệu của tỉnh / Province data-quality trend')}"
        '<table class="quality-month"><tr><th>Cơ sở dữ liệu <span class="en">/ Database</span></th>'
        f'<th>Lần quét <span class="en">/ Scans</span></th>{head}</tr>{rows}{average}</table>'
        f"<h3>Theo tháng <span class='en'>/ By month</span></h3>{trend_table(quality.trend)}</section>"
    )


def month_quality_text(quality: MonthQuality) -> list[str]:
    """The monthly report's data-quality lines: each database's scores at the month's end and their change."""
    lines = ["", "Chất lượng dữ liệu / Data quality (the month's last scan; change from the month before):"]
    if not quality.databases:
        return [*lines, "  No data-quality scan in the last twelve months."]
    header = ("DATABASE", "SCANS", *(d.value.upper() for d in Dimension))

    def cell(value: float | None, change: float | None) -> str:
        return _percent(value) + ("" if change is None else f" ({change * 100:+.1f})")

    rows = [
        (db.id, str(db.scans), *(cell(db.scores.get(d), db.change.get(d)) for d in Dimension))
        for db in quality.databases
    ]
    rows.append(
        (
            "mean",
            str(quality.scanned),
            *(cell(quality.average.get(d), quality.average_change.get(d)) for d in Dimension),
        )
    )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines
