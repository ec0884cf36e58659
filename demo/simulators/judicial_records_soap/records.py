"""The simulated judicial records database's requests for certificates, derived from the population's citizens.

Each row is one request for a judicial record certificate (phiếu lý lịch tư pháp) as the provincial Department
of Justice (Sở Tư pháp) keeps it: Vietnamese column names, the service's own code lists (status ``1``-``4``,
authority ``STP68``). Rows are a deterministic function of the citizens and ``(seed, today)``, drawn with their
own ``random.Random`` so that other sector systems are not disturbed. Rules kept: applicants are adults on the
day they ask, nobody asks after their death (nor in the fortnight before it, so that every certificate is issued
to a living person), requests lie in the last three years, certificates are issued 3 to 10 working days after
the request (Article 48 of the Law on Judicial Records allows 10 days) or refused, and the handling Department
of Justice is that of the province of permanent residence.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, Final

from ..citizen_links import Row, add_years, adult_from, random_day

__all__ = [
    "PURPOSES",
    "STATUS_CODES",
    "authority_code",
    "generate_requests",
]

#: trang_thai: the service's status codes -> the contract's statuses.
STATUS_CODES: Final[dict[int, str]] = {1: "received", 2: "processing", 3: "issued", 4: "refused"}
_RECEIVED, _PROCESSING, _ISSUED, _REFUSED = 1, 2, 3, 4

#: Purposes stated on requests, by certificate type.
PURPOSES: Final[dict[int, tuple[str, ...]]] = {
    1: (
        "Bổ sung hồ sơ xin việc",
        "Bổ sung hồ sơ xin việc",
        "Bổ sung hồ sơ xin việc",
        "Thành lập doanh nghiệp",
        "Đăng ký hộ kinh doanh",
        "Xin cấp giấy phép hành nghề",
        "Kết hôn với người nước ngoài",
        "Du học",
        "Bổ nhiệm làm công chứng viên",
    ),
    2: (
        "Xuất khẩu lao động",
        "Định cư ở nước ngoài",
        "Xin visa",
        "Theo yêu cầu của cá nhân",
    ),
}

_SHARE_ASKING = 0.12
_SHARE_TYPE_2 = 0.2
_SHARE_REFUSED = 0.04
_SHARE_CRIMINAL_RECORD = 0.04
_YEARS_BACK = 3


def authority_code(province_code: str) -> str:
    """The service's code of a province's Department of Justice: ``STP`` and the province code."""
    return f"STP{province_code}"


def _death(row: Row) -> date | None:
    value: Any = row.get("ngay_mat")
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def generate_requests(citizens: Iterable[Row], *, seed: int, today: date) -> list[Row]:
    """The certificate requests of ``citizens`` (``cong_dan`` rows), oldest first, numbered per province and
    year (``LLTP-68-2025-000001``)."""
    rng = random.Random(f"{seed}:judicial_records")  # noqa: S311 - synthetic data, not security
    window = add_years(today, -_YEARS_BACK)
    drafts: list[Row] = []
    for citizen in citizens:
        if rng.random() >= _SHARE_ASKING:
            continue
        start = max(adult_from(citizen), window)
        death = _death(citizen)
        end = today if death is None else min(today, death - timedelta(days=15))
        if start > end:
            continue
        for _ in range(1 if rng.random() < 0.8 else 2):
            drafts.append(_request(rng, citizen, random_day(rng, start, end), today))
    drafts.sort(key=lambda row: (row["ngay_tiep_nhan"], row["so_dinh_danh"], row["loai_phieu"]))
    serials: defaultdict[tuple[str, int], int] = defaultdict(int)
    for row in drafts:
        key = (row["ma_co_quan"][3:], row["ngay_tiep_nhan"].year)
        serials[key] += 1
        row["so_ho_so"] = f"LLTP-{key[0]}-{key[1]}-{serials[key]:06d}"
    return drafts


def _request(rng: random.Random, citizen: Row, requested: date, today: date) -> Row:
    certificate_type = 2 if rng.random() < _SHARE_TYPE_2 else 1
    handled = requested + timedelta(days=rng.randint(3, 10))
    refused = rng.random() < _SHARE_REFUSED
    criminal = rng.random() < _SHARE_CRIMINAL_RECORD
    if handled <= today:
        status = _REFUSED if refused else _ISSUED
    else:
        status = _RECEIVED if (today - requested).days <= 1 else _PROCESSING
    return {
        "so_ho_so": "",
        "so_dinh_danh": citizen["so_dinh_danh"],
        "ho_ten": citizen["ho_ten"],
        "ngay_sinh": citizen["ngay_sinh"],
        "gioi_tinh": citizen["gioi_tinh"],
        "loai_phieu": certificate_type,
        "muc_dich": rng.choice(PURPOSES[certificate_type]),
        "ngay_tiep_nhan": requested,
        "ngay_cap": handled if status == _ISSUED else None,
        "trang_thai": status,
        "ma_co_quan": authority_code(citizen["thuong_tru_tinh"]),
        "co_an_tich": criminal if status == _ISSUED else None,
    }
