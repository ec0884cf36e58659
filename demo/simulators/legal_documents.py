"""The simulated legal normative documents database of Lâm Đồng (Cơ sở dữ liệu văn bản quy phạm pháp luật).

One table, ``van_ban_qppl``, holds the resolutions of the People's Councils (``NQ-HĐND``) and the decisions of
the People's Committees (``QĐ-UBND``) of the province, and since the two-level local government of 1 July 2025
those of a few of its communes, in the sector system's own columns and code lists. It holds no personal data and
is a deterministic function of ``(seed, today)`` with its own random stream:

* documents are numbered per issuing body, kind and year in the order of signing (``12/2025/QĐ-UBND``);
* each takes effect 10 to 20 days after signing (Article 57 of the 2015 Law: at least 10 days for provincial
  documents), so that the last ones are not yet in force;
* older documents are more often replaced: an expired one carries the day it ceased to apply, after it took
  effect and not after ``today``; some are partly expired.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final

import sqlalchemy as sa

from contracts.dates import vietnam_today

from .citizen_links import Row, random_day
from .sectors import SectorContext, SectorSystem
from .sql_seeding import seed_table
from .vn_places import wards_of

__all__ = [
    "DOCUMENTS",
    "DOCUMENT_TYPE_CODES",
    "ISSUING_BODY_CODES",
    "LEGAL_DOCUMENTS",
    "PROVINCE",
    "STATUS_CODES",
    "generate_documents",
    "metadata",
    "seed_legal_documents",
]

#: Metadata holding only the simulated sector table.
metadata = sa.MetaData()

#: The documents table of the simulated legal normative documents database.
DOCUMENTS: Final = sa.Table(
    "van_ban_qppl",
    metadata,
    sa.Column("id_van_ban", sa.String(10), primary_key=True, comment="the database's document id"),
    sa.Column("so_ky_hieu", sa.String(30), nullable=False, comment="number and symbol"),
    sa.Column("loai_van_ban", sa.String(2), nullable=False, comment="NQ nghị quyết, QD quyết định"),
    sa.Column("co_quan_ban_hanh", sa.String(4), nullable=False, comment="HDND, UBND"),
    sa.Column("ma_tinh", sa.String(2), nullable=False),
    sa.Column("ma_xa", sa.String(5), nullable=True, comment="commune-level documents"),
    sa.Column("trich_yeu", sa.String(500), nullable=False, comment="title"),
    sa.Column("ngay_ban_hanh", sa.Date, nullable=False),
    sa.Column("ngay_hieu_luc", sa.Date, nullable=False),
    sa.Column("tinh_trang", sa.String(1), nullable=False, comment="1 not yet, 2 in force, 3 partly, 4 expired"),
    sa.Column("ngay_het_hieu_luc", sa.Date, nullable=True),
    sa.Index("ix_van_ban_qppl_so_ky_hieu", "so_ky_hieu"),
    sa.Index("ix_van_ban_qppl_ma_tinh", "ma_tinh"),
)

#: The province whose database this is.
PROVINCE: Final = "68"
#: loai_van_ban -> contract document type.
DOCUMENT_TYPE_CODES: Final[dict[str, str]] = {"NQ": "resolution", "QD": "decision"}
#: co_quan_ban_hanh -> contract issuing body.
ISSUING_BODY_CODES: Final[dict[str, str]] = {"HDND": "peoples_council", "UBND": "peoples_committee"}
#: tinh_trang -> contract status.
STATUS_CODES: Final[dict[str, str]] = {"1": "not_yet_in_force", "2": "in_force", "3": "partly_expired", "4": "expired"}

_NOT_YET, _IN_FORCE, _PARTLY, _EXPIRED = "1", "2", "3", "4"
_SYMBOL = {"NQ": "NQ-HĐND", "QD": "QĐ-UBND"}
_BODY = {"NQ": "HDND", "QD": "UBND"}
_TWO_LEVEL_GOVERNMENT = date(2025, 7, 1)
_YEARS = 10
_COMMUNES = 6

_DEPARTMENTS = (
    "Tư pháp", "Tài chính", "Xây dựng", "Nông nghiệp và Môi trường", "Giáo dục và Đào tạo", "Y tế", "Nội vụ",
    "Công Thương", "Khoa học và Công nghệ", "Văn hóa, Thể thao và Du lịch", "Dân tộc và Tôn giáo",
)  # fmt: skip
_AREAS = (
    "quản lý đất đai", "quản lý chất thải rắn", "phòng, chống thiên tai", "quản lý chợ", "quản lý rừng",
    "cấp nước sinh hoạt nông thôn", "quản lý cụm công nghiệp", "bảo vệ môi trường", "quản lý trật tự xây dựng",
)  # fmt: skip
_FEES = (
    "thẩm định báo cáo đánh giá tác động môi trường", "tham quan danh lam thắng cảnh", "sử dụng công trình "
    "kết cấu hạ tầng trong khu vực cửa khẩu", "thẩm định cấp quyền sử dụng đất", "đăng ký cư trú", "bảo vệ môi "
    "trường đối với khai thác khoáng sản",
)  # fmt: skip
_GROUPS = (
    "người có công với cách mạng", "học sinh dân tộc thiểu số", "hộ nghèo, hộ cận nghèo", "người cao tuổi",
    "cán bộ y tế cơ sở", "hợp tác xã nông nghiệp", "doanh nghiệp khởi nghiệp sáng tạo",
)  # fmt: skip
_DECISIONS = (
    "Quy định chức năng, nhiệm vụ, quyền hạn và cơ cấu tổ chức của Sở {department}",
    "Ban hành Quy định bảng giá đất trên địa bàn {place}",
    "Quy định hệ số điều chỉnh giá đất năm {year} trên địa bàn {place}",
    "Quy định phân cấp quản lý nhà nước về {area} trên địa bàn {place}",
    "Ban hành Quy chế phối hợp trong công tác {area} trên địa bàn {place}",
    "Ban hành đơn giá bồi thường nhà, công trình xây dựng khi Nhà nước thu hồi đất trên địa bàn {place}",
    "Quy định giá dịch vụ thu gom, vận chuyển rác thải sinh hoạt trên địa bàn {place}",
)
_RESOLUTIONS = (
    "Quy định mức thu, miễn, giảm, quản lý và sử dụng phí {fee} trên địa bàn {place}",
    "Quy định chính sách hỗ trợ {group} trên địa bàn {place}",
    "Quy định nội dung và mức chi hỗ trợ phát triển sản xuất nông nghiệp trên địa bàn {place} giai đoạn {year}-{later}",
    "Thông qua Bảng giá đất trên địa bàn {place}",
    "Quy định mức chi bảo đảm cho công tác {area} trên địa bàn {place}",
)


_COMMUNE_DECISIONS = (
    "Ban hành Quy chế phối hợp trong công tác {area} trên địa bàn {place}",
    "Ban hành Quy chế quản lý hoạt động của thôn, tổ dân phố trên địa bàn {place}",
)
_COMMUNE_RESOLUTIONS = (
    "Quy định mức chi bảo đảm cho công tác {area} trên địa bàn {place}",
    "Quy định mức hỗ trợ {group} trên địa bàn {place}",
)


def _place(ward_name: str | None) -> str:
    if ward_name is None:
        return "tỉnh Lâm Đồng"
    return ward_name[0].lower() + ward_name[1:]


def _title(rng: random.Random, kind: str, year: int, ward_name: str | None) -> str:
    if ward_name is None:
        template = rng.choice(_RESOLUTIONS if kind == "NQ" else _DECISIONS)
    else:  # a commune legislates only on what the law leaves to it
        template = rng.choice(_COMMUNE_RESOLUTIONS if kind == "NQ" else _COMMUNE_DECISIONS)
    return template.format(
        department=rng.choice(_DEPARTMENTS),
        place=_place(ward_name),
        year=year,
        later=year + 4,
        area=rng.choice(_AREAS),
        fee=rng.choice(_FEES),
        group=rng.choice(_GROUPS),
    )


def _status(rng: random.Random, effective: date, today: date) -> tuple[str, date | None]:
    if effective > today:
        return _NOT_YET, None
    age = (today - effective).days / 365.25
    draw = rng.random()
    earliest_end = effective + timedelta(days=180)
    if draw < min(0.55, 0.07 * age) and earliest_end <= today:
        return _EXPIRED, random_day(rng, earliest_end, today)
    if draw < min(0.55, 0.07 * age) + 0.08:
        return _PARTLY, None
    return _IN_FORCE, None


def generate_documents(*, seed: int = 68, today: date | None = None) -> list[Row]:
    """The ``van_ban_qppl`` rows, in the order of signing, as a deterministic function of ``(seed, today)``."""
    today = today or vietnam_today()
    rng = random.Random(f"{seed}:legal_documents")  # noqa: S311 - synthetic data, not security
    communes = sorted(rng.sample(wards_of(PROVINCE), _COMMUNES))
    drafts: list[Row] = []
    for year in range(today.year - _YEARS + 1, today.year + 1):
        year_end = min(today, date(year, 12, 31))
        issuers: list[tuple[str | None, str | None, tuple[int, int], tuple[int, int]]] = [
            (None, None, (40, 70), (18, 32))
        ]
        for commune in communes:
            issuers.append((commune.code, commune.name, (0, 3), (0, 2)))
        for ward, ward_name, decisions, resolutions in issuers:
            start = date(year, 1, 1) if ward is None else max(date(year, 1, 1), _TWO_LEVEL_GOVERNMENT)
            if start > year_end:
                continue
            for kind, bounds in (("QD", decisions), ("NQ", resolutions)):
                for _ in range(rng.randint(*bounds)):
                    signed = random_day(rng, start, year_end)
                    effective = signed + timedelta(days=rng.randint(10, 20))
                    status, expired = _status(rng, effective, today)
                    drafts.append(
                        {
                            "id_van_ban": "",
                            "so_ky_hieu": "",
                            "loai_van_ban": kind,
                            "co_quan_ban_hanh": _BODY[kind],
                            "ma_tinh": PROVINCE,
                            "ma_xa": ward,
                            "trich_yeu": _title(rng, kind, year, ward_name),
                            "ngay_ban_hanh": signed,
                            "ngay_hieu_luc": effective,
                            "tinh_trang": status,
                            "ngay_het_hieu_luc": expired,
                        }
                    )
    drafts.sort(key=lambda row: (row["ngay_ban_hanh"], row["ma_xa"] or "", row["loai_van_ban"], row["trich_yeu"]))
    serials: defaultdict[tuple[str | None, str, int], int] = defaultdict(int)
    item = 150_000 + rng.randrange(10_000)
    for row in drafts:
        key = (row["ma_xa"], row["loai_van_ban"], row["ngay_ban_hanh"].year)
        serials[key] += 1
        row["so_ky_hieu"] = f"{serials[key]:02d}/{key[2]}/{_SYMBOL[row['loai_van_ban']]}"
        item += rng.randint(1, 60)
        row["id_van_ban"] = str(item)
    return drafts


def _rows(seed: int, today: date | None) -> Iterator[dict[str, Any]]:
    yield from generate_documents(seed=seed, today=today)


async def seed_legal_documents(url: str, *, seed: int = 68, today: date | None = None, replace: bool = False) -> int:
    """Create ``van_ban_qppl`` at the SQLAlchemy ``url`` and fill it; returns the number of rows."""
    return await seed_table(url, DOCUMENTS, lambda: _rows(seed, today), replace=replace)


async def _start(context: SectorContext) -> dict[str, Any]:
    url = context.sqlite_url("legal_documents")
    if context.sector_defects is None:
        await seed_legal_documents(url, seed=context.seed, today=context.today)
    else:
        rows = generate_documents(seed=context.seed, today=context.today)
        context.plant("legal_documents", rows)
        await seed_table(url, DOCUMENTS, lambda: rows)
    return {"url": url}


#: The simulated legal normative documents database, served over SQL.
LEGAL_DOCUMENTS = SectorSystem(
    database="legal_documents",
    connector="legal_documents",
    title="Legal normative documents database",
    protocol="sql",
    start=_start,
)
