"""Realistic data-quality defects planted at known rates in the simulated population database and sector systems.

Real registers are not clean: names typed with extra spaces or in capitals, a person registered twice under two
ids, fields left empty, records nobody updated for years, a year of birth typed wrong, a death registered in the
civil status database that never reached the population database. The demo plants such defects so that the
gateway's data-quality report has something true to show; the tests measure them back.

:func:`plant_population_defects` takes the clean ``cong_dan`` rows (:func:`simulators.population.generate_citizens`)
and returns defective copies together with a :class:`PlantedDefects` manifest naming the records of each defect.
Each defect touches ``round(rate * n)`` records (``n`` the citizens, or the dead for unpropagated deaths), chosen at
random from its own stream, and no record carries two defects. The other simulated systems keep deriving their
records from the clean rows (so the civil status database still registers the deaths the population lost).

:func:`plant_sector_defects` does the same in the records of the other simulated systems (:class:`SectorDefects`):
a holder's name that is not the one the population database records, names not normalised, a death or a move that
did not reach the system, a status not updated.

The demo's sample citizen (the first living citizen whose birth was registered in Lâm Đồng, code ``068``, by
personal id) is never touched, nor can a defective record take its place.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from contracts.dates import vietnam_today

__all__ = [
    "DEMO_DEFECTS",
    "DEMO_SECTOR_DEFECTS",
    "SECTOR_SHAPES",
    "PlantedDefects",
    "PopulationDefects",
    "SectorDefects",
    "SectorPlanted",
    "plant_population_defects",
    "plant_sector_defects",
    "showcase_id",
]

Row = dict[str, Any]
_DEMO_PROVINCE: Final = "068"
_IDENTITY: Final = ("ho_ten", "ngay_sinh", "gioi_tinh", "dk_khai_sinh_tinh", "dk_khai_sinh_xa")


@dataclass(frozen=True, slots=True)
class PopulationDefects:
    """The share of citizens given each defect (0 to 1; all off by default).

    * ``unnormalised_names``: a full name with a doubled or trailing space, or in capitals (half of each);
    * ``duplicate_identities``: a living person registered a second time under another personal id, over the
      record of another living citizen (the number of records stays; that citizen is lost);
    * ``missing_marital_status``: the marital status left empty;
    * ``stale_updates``: last updated 5 to 12 years ago (a living person of 13 or more);
    * ``birth_year_mismatch``: the year of birth typed one year early, so that it disagrees with the personal id;
    * ``unpropagated_deaths``: a share of *the dead* whose death the population database does not record.
    """

    unnormalised_names: float = 0.0
    duplicate_identities: float = 0.0
    missing_marital_status: float = 0.0
    stale_updates: float = 0.0
    birth_year_mismatch: float = 0.0
    unpropagated_deaths: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            if not 0.0 <= getattr(self, item.name) <= 1.0:
                raise ValueError(f"{item.name} must be between 0 and 1")

    @property
    def any(self) -> bool:
        """Whether any defect is planted at all."""
        return any(getattr(self, item.name) for item in fields(self))


DEMO_DEFECTS: Final = PopulationDefects(
    unnormalised_names=0.03,
    duplicate_identities=0.01,
    missing_marital_status=0.02,
    stale_updates=0.04,
    birth_year_mismatch=0.005,
    unpropagated_deaths=0.2,
)
"""The defects of the demo's population database."""


@dataclass(slots=True)
class PlantedDefects:
    """Which records got which defect (personal ids); ``duplicate_identities`` holds the second registrations."""

    unnormalised_names: set[str] = field(default_factory=set)
    duplicate_identities: set[str] = field(default_factory=set)
    missing_marital_status: set[str] = field(default_factory=set)
    stale_updates: set[str] = field(default_factory=set)
    birth_year_mismatch: set[str] = field(default_factory=set)
    unpropagated_deaths: set[str] = field(default_factory=set)


def showcase_id(rows: Sequence[Row]) -> str | None:
    """The personal id of the demo's sample citizen: the smallest of the living born in province ``068``."""
    living = [r["so_dinh_danh"] for r in rows if r["ngay_mat"] is None and r["so_dinh_danh"].startswith(_DEMO_PROVINCE)]
    return min(living, default=None)


def _before_showcase(personal_id: str, showcase: str | None) -> bool:
    """Whether a living citizen with this id would become the demo's sample citizen instead of the showcase."""
    return showcase is not None and personal_id.startswith(_DEMO_PROVINCE) and personal_id < showcase


def _count(rate: float, total: int) -> int:
    return round(rate * total)


def _birth(row: Row) -> date:
    return date.fromisoformat((row["ngay_sinh"] + "-01-01")[:10])


def _messy_name(rng: random.Random, name: str) -> str:
    if rng.random() < 0.5:
        return name.upper()
    words = name.split(" ")
    if len(words) > 1 and rng.random() < 0.6:
        at = rng.randrange(1, len(words))
        return " ".join(words[:at]) + "  " + " ".join(words[at:])
    return name + " "


def _year_earlier(value: str) -> str:
    year = int(value[:4]) - 1
    rest = value[4:]
    return f"{year:04d}{'-02-28' if rest == '-02-29' else rest}"


def _second_id(rng: random.Random, source: str, used: set[str], showcase: str | None) -> str:
    """Another personal id agreeing with the same birth province, century, gender and year (a later serial)."""
    while True:
        candidate = f"{source[:6]}{rng.randrange(500_000, 1_000_000):06d}"
        if candidate not in used and not _before_showcase(candidate, showcase):
            used.add(candidate)
            return candidate


def plant_population_defects(
    rows: Sequence[Row], defects: PopulationDefects, *, seed: int = 68, today: date | None = None
) -> tuple[list[Row], PlantedDefects]:
    """Copies of the ``cong_dan`` rows with ``defects`` planted, and which records got which (see the module)."""
    today = today or vietnam_today()
    rng = random.Random(f"{seed}:defects")  # noqa: S311 - synthetic data, not security
    planted = PlantedDefects()
    result = [dict(row) for row in rows]
    if not defects.any:
        return result, planted
    showcase = showcase_id(rows)
    used = {row["so_dinh_danh"] for row in rows}
    order = [row for row in result if row["so_dinh_danh"] != showcase]
    rng.shuffle(order)
    taken: set[str] = set()

    def pick(count: int, eligible: Any) -> list[Row]:
        chosen: list[Row] = []
        for row in order:
            if len(chosen) == count:
                break
            if row["so_dinh_danh"] not in taken and eligible(row):
                taken.add(row["so_dinh_danh"])
                chosen.append(row)
        return chosen

    total = len(rows)
    dead = sum(1 for row in rows if row["ngay_mat"] is not None)
    # A death the population lost makes the person look alive: never one who would then precede the showcase.
    for row in pick(
        _count(defects.unpropagated_deaths, dead),
        lambda r: r["ngay_mat"] is not None and not _before_showcase(r["so_dinh_danh"], showcase),
    ):
        row["ngay_mat"] = None
        planted.unpropagated_deaths.add(row["so_dinh_danh"])
    for row in pick(_count(defects.unnormalised_names, total), lambda r: True):
        row["ho_ten"] = _messy_name(rng, row["ho_ten"])
        planted.unnormalised_names.add(row["so_dinh_danh"])
    for row in pick(_count(defects.missing_marital_status, total), lambda r: True):
        row["tinh_trang_hon_nhan"] = None
        planted.missing_marital_status.add(row["so_dinh_danh"])
    old_enough = today - timedelta(days=13 * 366)
    for row in pick(_count(defects.stale_updates, total), lambda r: r["ngay_mat"] is None and _birth(r) < old_enough):
        days = rng.randint(5 * 365, 12 * 365)
        moment = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=days)
        row["ngay_cap_nhat"] = moment + timedelta(seconds=rng.randrange(86_400))
        planted.stale_updates.add(row["so_dinh_danh"])
    for row in pick(_count(defects.birth_year_mismatch, total), lambda r: r["ngay_sinh"][:4] not in ("1900", "2000")):
        row["ngay_sinh"] = _year_earlier(row["ngay_sinh"])
        planted.birth_year_mismatch.add(row["so_dinh_danh"])
    # A living person registered a second time, over another living citizen's record: the same name, birth and
    # gender, another id (a later serial), the other record's address and household, no old identity card.
    count = _count(defects.duplicate_identities, total)
    alive = lambda r: r["ngay_mat"] is None  # noqa: E731
    for source, twin in zip(pick(count, alive), pick(count, alive), strict=False):
        twin.update(
            so_dinh_danh=_second_id(rng, source["so_dinh_danh"], used, showcase),
            so_cmnd=None,
            **{column: source[column] for column in _IDENTITY},
        )
        planted.duplicate_identities.add(twin["so_dinh_danh"])
    return result, planted


# --- the sector systems ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectorDefects:
    """The share of a sector system's records given each defect (0 to 1; all off by default).

    * ``identity_mismatch``: the person the record names (holder, owner, insured person, applicant...) carries
      another given name than the population database records for their personal id;
    * ``unnormalised_names``: that person's name with a doubled or trailing space, or in capitals;
    * ``unpropagated_deaths``: (social insurance) a share of the dead participants whose death is not recorded;
    * ``unpropagated_moves``: (tax) a share of individual taxpayers still managed in another province than that of
      their permanent address;
    * ``stale_status``: (legal documents) documents in force still marked "not yet in force";
    * ``registered_after_death``: (vehicles) a vehicle registered after its owner's death.

    Each defect touches ``round(rate * n)`` records, ``n`` being the records naming a person for the first two, the
    dead participants for ``unpropagated_deaths``, the individual taxpayers for ``unpropagated_moves``, all records
    for the others (chosen among those it can apply to: fewer when fewer can have it). They are chosen at random
    from the defect's own stream, no record carries two, and the record a system declares as its canary (the
    smallest key) is never touched.
    """

    identity_mismatch: float = 0.0
    unnormalised_names: float = 0.0
    unpropagated_deaths: float = 0.0
    unpropagated_moves: float = 0.0
    stale_status: float = 0.0
    registered_after_death: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            if not 0.0 <= getattr(self, item.name) <= 1.0:
                raise ValueError(f"{item.name} must be between 0 and 1")


DEMO_SECTOR_DEFECTS: Final = SectorDefects(
    identity_mismatch=0.02,
    unnormalised_names=0.03,
    unpropagated_deaths=0.25,
    unpropagated_moves=0.03,
    stale_status=0.03,
    registered_after_death=0.01,
)
"""The defects of the demo's sector systems (other than the population database)."""


@dataclass(slots=True)
class SectorPlanted:
    """Which records (by key) got which defect."""

    identity_mismatch: set[str] = field(default_factory=set)
    unnormalised_names: set[str] = field(default_factory=set)
    unpropagated_deaths: set[str] = field(default_factory=set)
    unpropagated_moves: set[str] = field(default_factory=set)
    stale_status: set[str] = field(default_factory=set)
    registered_after_death: set[str] = field(default_factory=set)


Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _People:
    """Where a sector system's records keep their key and the name of the person they name (every path holding
    that name is changed alike), and which records name a person."""

    key: Path
    names: tuple[Path, ...] = ()


#: Database -> the shape of its records as the simulator keeps them (API objects, or table rows).
SECTOR_SHAPES: Final[dict[str, _People]] = {
    "business": _People(("MaSoDoanhNghiep",), (("NguoiDaiDien", "HoTen"),)),
    "tax": _People(("mst",), (("ca_nhan", "ho_ten"), ("ten_nnt",))),
    "social_insurance": _People(("maSoBhxh",), (("nguoiThamGia", "hoTen"),)),
    "health_insurance": _People(("maThe",), (("chuThe", "hoTen"),)),
    "driving_licences": _People(("so_gplx",), (("nguoi_lai", "ho_ten"),)),
    "judicial_records": _People(("so_ho_so",), (("ho_ten",),)),
    "vehicles": _People(("bien_so",), (("chu_xe_ho_ten",),)),
    "land": _People(("ma_thua",), (("chu_1_ho_ten",),)),
    "education": _People(("so_hieu",), (("ho_ten",),)),
    "civil_status": _People(("ma_dang_ky",), (("ho_ten",),)),
    "legal_documents": _People(("id_van_ban",)),
}

# Given names another registration may carry by mistake.
_GIVEN_NAMES: Final = ("An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Minh", "Ngọc", "Phúc", "Trang")
# legal documents: tinh_trang codes.
_NOT_YET_IN_FORCE, _IN_FORCE = "1", "2"


def _get(row: Row, path: Path) -> Any:
    value: Any = row
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _put(row: Row, path: Path, value: Any) -> None:
    target: Any = row
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _other_name(rng: random.Random, name: str) -> str:
    words = name.split(" ")
    choices = [given for given in _GIVEN_NAMES if given.casefold() != words[-1].casefold()]
    return " ".join([*words[:-1], rng.choice(choices)])


def plant_sector_defects(
    database: str,
    records: Sequence[Row],
    defects: SectorDefects,
    *,
    seed: int = 68,
    today: date | None = None,
    deaths: Mapping[str, date] | None = None,
) -> SectorPlanted:
    """Plant ``defects`` in the records of ``database``'s simulated system, *in place* (the API's own objects, or
    the rows about to be inserted), and say which records got which (see :class:`SectorDefects`). ``deaths`` (the
    citizens' dates of death by personal id) and ``today`` are needed for the defects about deaths."""
    today = today or vietnam_today()
    shape = SECTOR_SHAPES[database]
    rng = random.Random(f"{seed}:{database}:defects")  # noqa: S311 - synthetic data, not security
    planted = SectorPlanted()
    keys = [str(_get(record, shape.key)) for record in records]
    canary = min(keys, default=None)
    order = [(key, record) for key, record in zip(keys, records, strict=True) if key != canary]
    rng.shuffle(order)
    taken: set[str] = set()

    def pick(rate: float, eligible: Any, base: int | None = None) -> list[tuple[str, Row]]:
        count = round(rate * (sum(1 for record in records if eligible(record)) if base is None else base))
        chosen = [(key, record) for key, record in order if key not in taken and eligible(record)][:count]
        taken.update(key for key, _ in chosen)
        return chosen

    named = lambda r: bool(shape.names) and isinstance(_get(r, shape.names[0]), str)  # noqa: E731
    for key, record in pick(defects.identity_mismatch, named):
        other = _other_name(rng, _get(record, shape.names[0]))
        for path in shape.names:
            _put(record, path, other)
        planted.identity_mismatch.add(key)
    for key, record in pick(defects.unnormalised_names, named):
        messy = _messy_name(rng, _get(record, shape.names[0]))
        for path in shape.names:
            _put(record, path, messy)
        planted.unnormalised_names.add(key)
    if database == "social_insurance":
        for key, record in pick(defects.unpropagated_deaths, lambda r: r.get("ngayChet") is not None):
            record.update(ngayChet=None, trangThai="TAM_DUNG")
            planted.unpropagated_deaths.add(key)
    if database == "tax":
        for key, record in pick(defects.unpropagated_moves, lambda r: r.get("ca_nhan") is not None):
            other = "01" if not str(record["co_quan_thue"]["ma"]).startswith("01") else "79"
            record["co_quan_thue"] = {"ma": f"{other}100", "ten": f"Thuế tỉnh, thành phố mã {other}"}
            planted.unpropagated_moves.add(key)
    if database == "legal_documents":
        for key, record in pick(defects.stale_status, lambda r: r.get("tinh_trang") == _IN_FORCE, len(records)):
            record["tinh_trang"] = _NOT_YET_IN_FORCE
            planted.stale_status.add(key)
    if database == "vehicles" and deaths is not None:

        def died_after(record: Row) -> bool:
            died = deaths.get(record["chu_xe_so_dinh_danh"])
            ended = record.get("ngay_thu_hoi")
            return died is not None and record["ngay_dang_ky"] <= died < today and (ended is None or ended > died)

        for key, record in pick(defects.registered_after_death, died_after, len(records)):
            died = deaths[record["chu_xe_so_dinh_danh"]]
            last = min(today, record["ngay_thu_hoi"] or today, died + timedelta(days=365))
            record["ngay_dang_ky"] = died + timedelta(days=rng.randint(1, (last - died).days))
            planted.registered_after_death.add(key)
    return planted
