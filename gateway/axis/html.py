"""The monthly connection report as one self-contained HTML page, the one a province attaches to its monthly
Project 06 report: Vietnamese first, then English; inline CSS and SVG bars, no script, no external resource."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Final
from zoneinfo import ZoneInfo

from gateway.axis.report import UNKNOWN, AxisMonthReport, DatabaseMonth, Incident
from gateway.quality.trend import month_quality_html

__all__ = ["STATE_LABELS", "duration_text", "percent", "render_report_html", "state_label"]

#: Each state's Vietnamese and English words; a state not listed is shown by its name.
STATE_LABELS: Final = {
    "connected": ("Đã kết nối", "Connected"),
    "degraded": ("Suy giảm", "Degraded"),
    "down": ("Mất kết nối", "Down"),
    "recovering": ("Đang phục hồi", "Recovering"),
    "maintenance": ("Bảo trì", "Maintenance"),
    "pending": ("Chưa kết nối", "Pending"),
    UNKNOWN: ("Không có dữ liệu", "No data"),
}
_COLOURS: Final = {
    "connected": "#1a7f37",
    "degraded": "#b7791f",
    "down": "#c62828",
    "recovering": "#e57373",
    "maintenance": "#1565c0",
    "pending": "#8c959f",
    UNKNOWN: "#d0d7de",
}
_OTHER_COLOUR = "#6a1b9a"
_CSS = """
body{font-family:"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
header{background:#0b3d91;color:#fff;padding:20px 24px}
header h1{margin:0 0 4px;font-size:24px}header p{margin:2px 0;opacity:.9}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:20px 0}
h2{font-size:20px;margin:0 0 8px}.headline{font-size:22px;font-weight:600;margin:4px 0}
.en{color:#57606a;font-weight:normal}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mono{font-family:ui-monospace,Consolas,monospace}.note{color:#57606a;font-size:13px}
.legend span{display:inline-block;margin-right:16px}
"""
_MONTHS_EN: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def state_label(state: str) -> tuple[str, str]:
    """The Vietnamese and English words of ``state``."""
    return STATE_LABELS.get(state, (state, state))


def percent(ratio: float | None) -> str:
    """``0.005`` as ``0.5 %`` (two decimals at most), ``–`` for none."""
    if ratio is None:
        return "–"
    text = f"{ratio * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def duration_text(seconds: float) -> str:
    """``12960`` as ``3 h 36 min``."""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or ("0 min" if seconds < 30 else "1 min")


def _both(vi: str, en: str) -> str:
    return f'{escape(vi)} <span class="en">/ {escape(en)}</span>'


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def _colour(state: str) -> str:
    return _COLOURS.get(state, _OTHER_COLOUR)


def _bar(database: DatabaseMonth, states: list[str], width: int = 300) -> str:
    """A stacked bar: the month of one database, coloured by state."""
    parts = [f'<svg width="{width}" height="14" role="img" aria-label="{escape(database.id)}">']
    x = 0.0
    for state in states:
        share = database.shares.get(state, 0.0)
        if share <= 0:
            continue
        parts.append(
            f'<rect x="{x:.2f}" y="0" width="{share * width:.2f}" height="14" fill="{_colour(state)}">'
            f"<title>{escape(state_label(state)[0])} / {escape(state_label(state)[1])}: {percent(share)}</title></rect>"
        )
        x += share * width
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[tuple[str, str]], rows: str) -> str:
    cells = "".join(f"<th>{_both(vi, en)}</th>" for vi, en in headers)
    return f"<table><tr>{cells}</tr>{rows}</table>"


def _route(route: str | None, platform: str | None) -> str:
    """The connection's route under its id: nothing when direct or unknown."""
    if route != "axis":
        return ""
    through = f" ({platform})" if platform else ""
    label = _both("qua trục kết nối" + through, "via the axis" + through)
    return f'<br><span class="note" data-field="route">{label}</span>'


def _databases_table(report: AxisMonthReport) -> str:
    rows = []
    for db in report.databases:
        shares = "".join(
            f'<td class="num" data-state="{escape(state)}">{percent(db.shares.get(state, 0.0))}</td>'
            for state in report.states
        )
        vi, en = state_label(db.state_at_end)
        rows.append(
            f'<tr data-database="{escape(db.id)}"><td>{_both(db.name, db.name_en)}<br>'
            f'<span class="note mono">{escape(db.id)}</span>{_route(db.route, db.platform)}</td>'
            f"<td>{_bar(db, report.states, 160)}</td>{shares}"
            f"<td>{_both(vi, en)}</td>"
            f'<td class="num" data-field="incidents">{len(db.incidents)}</td>'
            f'<td class="num" data-field="checks">{db.checks:,} ({db.checks_failed:,})</td>'
            f'<td class="num" data-field="requests">{db.requests:,}</td>'
            f'<td class="num" data-field="error_ratio">{percent(db.error_ratio)}</td></tr>'
        )
    headers = [
        ("Cơ sở dữ liệu", "Database"),
        ("Trong tháng", "Over the month"),
        *(state_label(state) for state in report.states),
        ("Cuối tháng", "At month end"),
        ("Sự cố", "Incidents"),
        ("Lần kiểm tra (lỗi)", "Checks (failed)"),
        ("Yêu cầu", "Requests"),
        ("Tỷ lệ lỗi", "Error ratio"),
    ]
    return _table(headers, "".join(rows))


def _incident_row(db: DatabaseMonth, incident: Incident, zone: ZoneInfo) -> str:
    vi, en = state_label(incident.state)
    start = _local(incident.start, zone) + (
        " (từ tháng trước / from the month before)" if incident.began_before else ""
    )
    end = _local(incident.end, zone) + (" (chưa kết thúc / not over)" if incident.ongoing else "")
    return (
        f'<tr data-database="{escape(db.id)}"><td>{_both(db.name, db.name_en)}</td><td>{_both(vi, en)}</td>'
        f"<td>{escape(start)}</td><td>{escape(end)}</td>"
        f'<td class="num">{escape(duration_text(incident.duration_seconds))}</td>'
        f"<td>{escape(incident.cause or '–')}</td></tr>"
    )


def _incidents(report: AxisMonthReport, zone: ZoneInfo) -> str:
    rows = "".join(_incident_row(db, incident, zone) for db in report.databases for incident in db.incidents)
    if not rows:
        return f"<p>{_both('Không có sự cố nào trong tháng.', 'No incident this month.')}</p>"
    headers = [
        ("Cơ sở dữ liệu", "Database"),
        ("Trạng thái", "State"),
        ("Bắt đầu", "Start"),
        ("Kết thúc", "End"),
        ("Thời gian", "Duration"),
        ("Nguyên nhân", "Cause"),
    ]
    return _table(headers, rows)


def render_report_html(report: AxisMonthReport) -> str:
    """The report as one HTML document (UTF-8, no external resources)."""
    zone = ZoneInfo(report.timezone)
    year, month = (int(part) for part in report.month.split("-"))
    legend = "".join(
        f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{_colour(state)}"/></svg> '
        f"{_both(*state_label(state))}</span>"
        for state in report.states
    )
    headline_vi = (
        f"{report.connected_at_end}/{report.total} cơ sở dữ liệu quốc gia đã kết nối vào cuối tháng "
        f"(mục tiêu {report.target})"
    )
    headline_en = (
        f"{report.connected_at_end} of {report.total} national databases connected at month end "
        f"(target {report.target})"
    )
    notes = [
        (
            f"Thời gian theo múi giờ {report.timezone}; tháng từ {_local(report.start, zone)} "
            f"đến {_local(report.end, zone)}.",
            f"Times in {report.timezone}; the month runs from {_local(report.start, zone)} "
            f"to {_local(report.end, zone)}.",
        ),
        (
            "Đã kết nối gồm cả suy giảm (vẫn trả lời nhưng chậm hoặc lỗi một phần). Sự cố: thời gian mất kết nối "
            "(không tính bảo trì và chưa kết nối). Tỷ lệ lỗi: yêu cầu thất bại do hệ thống nguồn trên tổng yêu cầu.",
            "Connected includes degraded (answering, but slow or partly failing). Incidents: time out of service "
            "(maintenance and pending excluded). Error ratio: requests that failed upstream over all requests.",
        ),
    ]
    if not report.complete:
        notes.insert(
            0,
            (
                f"Tháng chưa kết thúc: số liệu đến {_local(report.reported_until, zone)}.",
                f"The month is not over: figures up to {_local(report.reported_until, zone)}.",
            ),
        )
    if UNKNOWN in report.states:
        notes.append(
            (
                f"Không có dữ liệu: trước khi có lịch sử (lịch sử được lưu từ {_local(report.history_from, zone)}) "
                "hoặc trước lần kiểm tra đầu tiên.",
                f"No data: before the retained history (kept from {_local(report.history_from, zone)}) "
                "or before the first check.",
            )
        )
    notes_html = "".join(f"<p class='note'>{escape(vi)}<br>{escape(en)}</p>" for vi, en in notes)
    totals = (
        f"<p>{_both('Sự cố', 'Incidents')}: <b>{report.incidents}</b> · "
        f"{_both('Lần kiểm tra', 'Checks')}: <b>{report.checks:,}</b> ({report.checks_failed:,} "
        f"{_both('lỗi', 'failed')}) · {_both('Yêu cầu', 'Requests')}: <b>{report.requests:,}</b> · "
        f"{_both('Tỷ lệ lỗi', 'Error ratio')}: <b>{percent(report.error_ratio)}</b></p>"
    )
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Kết nối trục tích hợp tháng {month:02d}/{year} / Integration axis, {_MONTHS_EN[month - 1]} {year}"
        f"</title><style>{_CSS}</style></head><body>"
        "<header><h1>Báo cáo kết nối trục tích hợp <span style='opacity:.8'>/ Integration axis connection report"
        f"</span></h1><p>Tháng {month:02d}/{year} / {_MONTHS_EN[month - 1]} {year}</p>"
        f"<p>{escape('Lập lúc / Generated')} {escape(_local(report.generated_at, zone))} ({escape(report.timezone)})"
        "</p></header><main>"
        f'<section><p class="headline" id="headline">{escape(headline_vi)}</p>'
        f'<p class="headline en" id="headline-en">{escape(headline_en)}</p>{totals}{notes_html}</section>'
        f"<section><h2>{_both('Trạng thái kết nối trong tháng', 'Connection states over the month')}</h2>"
        f"<p class='legend'>{legend}</p>{_databases_table(report)}</section>"
        f"<section><h2>{_both('Sự cố', 'Incidents')}</h2>{_incidents(report, zone)}</section>"
        f"{month_quality_html(report.quality) if report.quality is not None else ''}"
        "</main></body></html>\n"
    )
