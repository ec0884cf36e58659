"""The data-quality report as one self-contained HTML page for officials: Vietnamese and English labels, inline
CSS, inline SVG bar charts, no script and no external resource. Record keys appear masked, never a name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Final

from contracts.dates import VIETNAM_TIME
from gateway.quality.report import DimensionScore, QualityReport, RuleScore, SourceReport
from gateway.quality.rules import Dimension
from gateway.quality.trend import trend_svg, trend_table

__all__ = ["render_html"]

_GOOD, _FAIR = 0.98, 0.90
_COLOURS: Final = {"good": "#1a7f37", "fair": "#b7791f", "poor": "#c62828", "none": "#9e9e9e"}
_DIMENSION_NOTES: Final = {
    Dimension.CORRECT: (
        "dữ liệu đúng quy định, khớp số định danh, mã hành chính, ngày tháng hợp lý",
        "valid against the contract and the domain rules",
    ),
    Dimension.COMPLETE: ("có đủ các trường bắt buộc và cần có", "required and expected fields present"),
    Dimension.CLEAN: ("không trùng lặp, họ tên và địa chỉ được chuẩn hóa", "no duplicates, normalised names"),
    Dimension.LIVE: ("được cập nhật kịp thời, đã đồng bộ khai tử", "updated in time, deaths propagated"),
}
_SOURCES: Final = {
    "scan": ("Quét mẫu cơ sở dữ liệu", "Sampled scan of the database"),
    "submitted": ("Dữ liệu được các cơ quan gửi đến", "Records submitted by agencies"),
}
_CSS = """
body{font-family:"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
header{background:#0b3d91;color:#fff;padding:20px 24px}
header h1{margin:0 0 4px;font-size:24px}header p{margin:2px 0;opacity:.9}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:20px 0}
h2{font-size:20px;margin:0 0 8px}h3{font-size:16px;margin:18px 0 6px}
.en{color:#57606a;font-weight:normal}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mono{font-family:ui-monospace,Consolas,monospace}.note{color:#57606a;font-size:13px}
.legend span{display:inline-block;margin-right:16px}
"""


def _vn_time(moment: datetime) -> str:
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M") + " (UTC+7)"


def _percent(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.1f} %"


def _grade(ratio: float | None) -> str:
    if ratio is None:
        return "none"
    return "good" if ratio >= _GOOD else "fair" if ratio >= _FAIR else "poor"


def _both(vi: str, en: str) -> str:
    return f'{escape(vi)} <span class="en">/ {escape(en)}</span>'


_DIMENSION: Final = ("Tiêu chí", "Dimension")
_CHECKED: Final = ("Đã kiểm tra", "Checked")
_FAILED: Final = ("Không đạt", "Failed")
_UNVERIFIED: Final = ("Chưa kiểm chứng được", "Unverified")
_PASS_RATE: Final = ("Tỷ lệ đạt", "Pass rate")
_WORST_HEADERS: Final = ("#", ("Bản ghi (đã che)", "Record (masked)"), ("Vấn đề", "Problem"), ("Mức độ", "Severity"))


def _table(headers: Sequence[str | tuple[str, str]], rows: str) -> str:
    """A table with a header row (a heading is plain text, or its Vietnamese and English words) above ``rows``."""
    cells = "".join(f"<th>{escape(h) if isinstance(h, str) else _both(*h)}</th>" for h in headers)
    return f"<table><tr>{cells}</tr>{rows}</table>"


def _dimension_chart(dimensions: list[DimensionScore]) -> str:
    """Horizontal bars, one per dimension: the share of passing records."""
    row, label, width = 40, 200, 560
    height = row * len(dimensions) + 10
    parts = [
        f'<svg role="img" aria-label="Điểm chất lượng theo tiêu chí / Score per dimension" width="100%" '
        f'viewBox="0 0 {label + width + 90} {height}">'
    ]
    for index, score in enumerate(dimensions):
        y = 5 + index * row
        filled = 0 if score.ratio is None else round(width * score.ratio)
        colour = _COLOURS[_grade(score.ratio)]
        parts += [
            f'<text x="0" y="{y + 22}" font-size="15" font-weight="600">{escape(score.title_vi)}'
            f'<tspan fill="#57606a" font-weight="normal"> / {escape(score.dimension.value.capitalize())}'
            "</tspan></text>",
            f'<rect x="{label}" y="{y + 6}" width="{width}" height="22" fill="#eaeef2" rx="3"/>',
            f'<rect x="{label}" y="{y + 6}" width="{filled}" height="22" fill="{colour}" rx="3"/>',
            f'<text x="{label + width + 8}" y="{y + 22}" font-size="15">{_percent(score.ratio)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _mini_bar(ratio: float | None) -> str:
    filled = 0 if ratio is None else round(100 * ratio)
    colour = _COLOURS[_grade(ratio)]
    return (
        f'<svg width="100" height="10" aria-hidden="true">'
        f'<rect width="100" height="10" fill="#eaeef2"/><rect width="{filled}" height="10" fill="{colour}"/></svg>'
    )


def _dimensions_table(dimensions: list[DimensionScore]) -> str:
    rows = "".join(
        f"<tr><td>{_both(d.title_vi, d.dimension.value.capitalize())}<br><span class='note'>"
        f"{escape(_DIMENSION_NOTES[d.dimension][0])} / {escape(_DIMENSION_NOTES[d.dimension][1])}</span></td>"
        f'<td class="num">{d.checked:,}</td><td class="num">{d.failed:,}</td><td class="num">{d.unverified:,}</td>'
        f'<td class="num">{_percent(d.ratio)}</td></tr>'
        for d in dimensions
    )
    return _table([_DIMENSION, _CHECKED, _FAILED, _UNVERIFIED, _PASS_RATE], rows)


def _rules_table(rules: list[RuleScore]) -> str:
    rows = "".join(
        f"<tr><td>{escape(Dimension(r.dimension).title_vi)}</td><td>{_both(r.title_vi, r.title)}<br>"
        f'<span class="note mono">{escape(r.id)}</span></td><td class="num">{r.checked:,}</td>'
        f'<td class="num">{r.failed:,}</td><td class="num">{r.unverified:,}</td>'
        f'<td class="num">{_percent(r.ratio)} {_mini_bar(r.ratio)}</td></tr>'
        for r in rules
    )
    return _table([_DIMENSION, ("Quy tắc", "Rule"), _CHECKED, _FAILED, _UNVERIFIED, _PASS_RATE], rows)


def _worst_tables(rules: list[RuleScore]) -> str:
    failing = [r for r in rules if r.worst]
    if not failing:
        return f"<p>{_both('Không có bản ghi nào vi phạm.', 'No record failed any rule.')}</p>"
    parts = []
    for rule in failing:
        rows = "".join(
            f'<tr><td class="num">{index}</td><td class="mono">{escape(w.record)}</td><td>{escape(w.detail)}</td>'
            f'<td class="num">{w.weight:g}</td></tr>'
            for index, w in enumerate(rule.worst, start=1)
        )
        parts.append(
            f"<h3>{_both(rule.title_vi, rule.title)} <span class='note'>({rule.failed:,} "
            f"{escape('bản ghi không đạt / failed records')})</span></h3>{_table(_WORST_HEADERS, rows)}"
        )
    return "".join(parts)


def _source_section(report: SourceReport) -> str:
    vi, en = _SOURCES.get(report.source, (report.source, report.source))
    if report.source == "scan":
        scope = (
            f"{report.records:,} bản ghi được chọn ngẫu nhiên (yêu cầu {report.sample_size or report.records:,}), "
            f"lúc {_vn_time(report.updated_at)} / {report.records:,} records picked at random"
        )
    else:
        scope = (
            f"{report.records:,} bản ghi từ {_vn_time(report.started_at)} đến {_vn_time(report.updated_at)} / "
            f"{report.records:,} records submitted since {_vn_time(report.started_at)}"
        )
    return (
        f"<section><h2>{_both(vi, en)}</h2><p class='note'>{escape(scope)} · "
        f"{escape('hợp đồng dữ liệu / contract')} <span class='mono'>{escape(report.contract)}</span></p>"
        f"{_dimension_chart(report.dimensions)}{_dimensions_table(report.dimensions)}"
        f"<h3>{_both('Kết quả theo quy tắc', 'Results per rule')}</h3>{_rules_table(report.rules)}"
        f"<h3>{_both('10 bản ghi vi phạm nặng nhất của mỗi quy tắc', 'The ten worst records per rule')}</h3>"
        f"{_worst_tables(report.rules)}</section>"
    )


_TREND_NOTE: Final = (
    "Điểm của lần quét cuối cùng trong mỗi tháng; trong ngoặc: thay đổi so với tháng trước (điểm phần trăm).",
    "The scores of the last scan of each month; in brackets: the change from the month before (points).",
)


def _trend_section(report: QualityReport) -> str:
    if not report.trend:
        return ""
    return (
        f"<section><h2>{_both('Xu hướng theo tháng', 'Trend by month')}</h2>"
        f"<p class='note'>{escape(_TREND_NOTE[0])}<br>{escape(_TREND_NOTE[1])}</p>"
        f"{trend_svg(report.trend)}{trend_table(report.trend)}</section>"
    )


def render_html(report: QualityReport) -> str:
    """The report as one HTML document (UTF-8, no external resources)."""
    title = report.name_vi or report.database
    subtitle = f"{report.name} · {report.database}" if report.name else report.database
    sections = "".join(_source_section(s) for s in (report.scan, report.submitted) if s is not None)
    sections += _trend_section(report)
    legend = "".join(
        f'<span><svg width="12" height="12"><rect width="12" height="12" '
        f'fill="{_COLOURS[grade]}"/></svg> {escape(text)}</span>'
        for grade, text in (
            ("good", "≥ 98 %: tốt / good"),
            ("fair", "90–98 %: cần cải thiện / to improve"),
            ("poor", "< 90 %: kém / poor"),
        )
    )
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Chất lượng dữ liệu / Data quality: {escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Báo cáo chất lượng dữ liệu <span style='opacity:.8'>/ Data quality report</span></h1>"
        f"<p>{escape(title)}</p><p>{escape(subtitle)}</p>"
        f"<p>{escape('Lập lúc / Generated')} {escape(_vn_time(report.generated_at))}</p></header><main>"
        f"<p class='legend'>{legend}</p>"
        f"<p class='note'>{escape('Đúng, đủ, sạch, sống: tỷ lệ bản ghi đạt mọi quy tắc của từng tiêu chí.')}<br>"
        f"{escape('Correct, complete, clean, live: the share of records passing every rule of each dimension.')}"
        f"</p>{sections}"
        f"<p class='note'>{escape('Số định danh và khóa bản ghi được che; báo cáo không chứa họ tên.')}<br>"
        f"{escape('Personal ids and record keys are masked; the report shows no names.')}</p>"
        "</main></body></html>\n"
    )
