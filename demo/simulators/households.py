"""Households of synthetic citizens for the simulated population database.

:class:`HouseholdGenerator` draws a household type (a single person, a couple, parents with their
children, three generations, ...), the ages, genders and family links of its members, then their
names, birth registration, personal ids, old identity cards, hometown, residence, deaths and
marital status, keeping them consistent with each other.  All randomness comes from one
:class:`random.Random`, so the output is a function of its seed and of ``today``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from .vn_names import ETHNIC_WEIGHTS, family_name, full_name
from .vn_places import (
    CMND_PREFIXES,
    OLD_TO_CURRENT_PROVINCE,
    WardInfo,
    address_line,
    old_province_of_ward,
    pick_old_province_ward,
    pick_ward,
)

__all__ = ["HouseholdGenerator"]

# quan_he_chu_ho, gioi_tinh and tinh_trang_hon_nhan codes.
HEAD, SPOUSE, CHILD, PARENT, GRANDPARENT, GRANDCHILD, SIBLING, OTHER = 1, 2, 3, 4, 5, 6, 7, 9
MALE, FEMALE = 1, 2
SINGLE, MARRIED, DIVORCED, WIDOWED = 1, 2, 3, 4

# Pre-2025 province of birth registration of people not born where they live: neighbours, Hồ Chí
# Minh City and the northern provinces many families of Lâm Đồng came from.  (older, younger)
_ELSEWHERE: Final[dict[str, tuple[float, float]]] = {
    "068": (55, 62),
    "067": (5, 6),
    "060": (5, 6),
    "066": (7, 5),
    "056": (5, 4),
    "058": (3, 2),
    "075": (4, 4),
    "070": (2, 2),
    "079": (5, 5),
    "040": (5, 1.5),
    "038": (4, 1.5),
    "001": (2.5, 1),
    "036": (2.5, 1),
    "034": (2.5, 1),
}
_ELSEWHERE_CODES: Final = tuple(_ELSEWHERE)
# Indigenous peoples, nearly all born locally; and where some of them mostly live in Lâm Đồng.
_INDIGENOUS: Final = frozenset({"16", "17", "20", "21", "28", "36"})
_HOME_REGIONS: Final = {"17": "060", "21": "060", "20": "067"}
_HOUSEHOLD_TYPES: Final = (
    "single",
    "couple",
    "nuclear",
    "single_parent",
    "with_parents",
    "with_children",
    "young",
)
_HOUSEHOLD_WEIGHTS: Final = (8, 10, 53, 7, 11, 9, 2)


def _unique(rng: random.Random, digits: int, used: set[str], prefix: str = "") -> str:
    """``prefix`` followed by ``digits`` random digits, not yet in ``used`` (and then added to it)."""
    while True:
        value = f"{prefix}{rng.randrange(10**digits):0{digits}d}"
        if value not in used:
            used.add(value)
            return value


@dataclass(eq=False)
class _Member:
    """A household member while the household is being built."""

    gender: int
    age: int
    relation: int
    marital: int
    family: str
    spouse: _Member | None = None
    father: _Member | None = None
    name: str = ""
    birth: date = date.min
    death: date | None = None
    born_in: str = ""  # pre-2025 province of birth registration
    birth_ward: str | None = None
    hometown: tuple[str | None, str | None] | None = None


class HouseholdGenerator:
    """Builds households one after another from a single random stream, as ``cong_dan`` rows."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.latest_birth = today - timedelta(days=1)
        self.ethnicity = "01"
        self.ids: set[str] = set()
        self.cmnds: set[str] = set()
        self.households: set[str] = set()
        self.ethnic_codes = tuple(ETHNIC_WEIGHTS)
        self.ethnic_weights = tuple(ETHNIC_WEIGHTS.values())

    # -- household structure -------------------------------------------------------------------

    def band(self, bands: Sequence[tuple[int, int, float]]) -> int:
        """An age drawn from weighted (low, high, weight) bands."""
        low, high, _ = self.rng.choices(bands, weights=[b[2] for b in bands])[0]
        return self.rng.randint(low, high)

    def member(self, gender: int, age: int, relation: int, marital: int = SINGLE, family: str = "") -> _Member:
        """A new member; a family name typical of the household's ethnicity unless ``family``."""
        return _Member(gender, age, relation, marital, family or family_name(self.rng, self.ethnicity))

    def couple(self, husband_age: int) -> tuple[_Member, _Member]:
        """A married couple: the wife is usually a few years younger than the husband."""
        gap = self.rng.choices(range(-3, 11), weights=(1, 2, 4, 8, 10, 10, 9, 7, 5, 3, 2, 1, 1, 1))[0]
        husband_age = max(husband_age, 20)
        husband = self.member(MALE, husband_age, SPOUSE, MARRIED)
        wife = self.member(FEMALE, max(18, husband_age - gap), SPOUSE, MARRIED)
        husband.spouse, wife.spouse = wife, husband
        return husband, wife

    def heads(self, husband: _Member, wife: _Member, wife_heads: float = 0.2) -> list[_Member]:
        """The couple as [head, spouse]; the husband is the head unless (``wife_heads``) the wife."""
        head, other = (wife, husband) if self.rng.random() < wife_heads else (husband, wife)
        head.relation, other.relation = HEAD, SPOUSE
        return [head, other]

    def kid_ages(self, father_age: int | None, mother_age: int, wanted: int, max_age: int) -> list[int]:
        """Ages of up to ``wanted`` children 18-42 years younger than the mother (18-45: father)."""
        ages: list[int] = []
        age = mother_age - self.rng.randint(19, 29)
        for _ in range(wanted):
            if age < 0:
                break
            fits = 18 <= mother_age - age <= 42
            fits = fits and (father_age is None or 18 <= father_age - age <= 45)
            if fits and age <= max_age:
                ages.append(age)
            age -= self.rng.choice((1, 2, 2, 3, 3, 3, 4, 5, 6))
        return ages

    def children(
        self, father: _Member | None, ages: tuple[int, int], relation: int, *, room: int, max_age: int
    ) -> list[_Member]:
        """Children (or grandchildren) of a mother and father of ``ages`` (mother, father); the
        ``father`` member, when in the household, gives them his family name."""
        mother_age, father_age = ages
        older = mother_age >= 55
        weights = (10, 30, 30, 30) if older else (15, 45, 28, 12) if mother_age >= 40 else (20, 50, 22, 8)
        wanted = self.rng.choices((1, 2, 3, 4), weights=weights)[0]
        family = father.family if father else family_name(self.rng, self.ethnicity)
        kids = []
        for age in self.kid_ages(father_age, mother_age, min(wanted, room), max_age):
            kid = self.member(MALE if self.rng.random() < 0.52 else FEMALE, age, relation, family=family)
            kid.father = father
            if age >= 25 and self.rng.random() < 0.04:
                kid.marital = DIVORCED
            kids.append(kid)
        return kids

    def add_relative(self, members: list[_Member]) -> None:
        """Sometimes a sibling of the head or another relative lives in the household too."""
        head = members[0]
        roll = self.rng.random()
        if roll < 0.05 and len(members) < 7:
            age = max(15, min(95, head.age + self.rng.randint(-10, 10)))
            sibling = self.member(self.rng.choice((MALE, FEMALE)), age, SIBLING, family=head.family)
            sibling.father = head.father
            if age >= 25 and self.rng.random() < 0.2:
                sibling.marital = DIVORCED
            members.append(sibling)
        elif roll < 0.07 and len(members) < 7:
            age = self.rng.randint(15, 75)
            status = WIDOWED if age >= 60 and self.rng.random() < 0.5 else SINGLE
            members.append(self.member(self.rng.choice((MALE, FEMALE)), age, OTHER, status))

    def build(self, kind: str) -> list[_Member]:
        """The members of a household of ``kind`` (see ``_HOUSEHOLD_TYPES``); [] when it failed."""
        builders = {
            "single": self.single,
            "couple": self.couple_only,
            "nuclear": self.nuclear,
            "single_parent": self.single_parent,
            "with_parents": self.with_parents,
            "with_children": self.with_children,
            "young": self.young,
        }
        return builders[kind]()

    def single(self) -> list[_Member]:
        """A person living alone: young adults, and elderly (mostly widowed) people."""
        rng = self.rng
        age = self.band(((18, 29, 34), (30, 44, 20), (45, 59, 16), (60, 74, 18), (75, 96, 10)))
        gender = MALE if rng.random() < (0.55 if age < 60 else 0.3) else FEMALE
        if age < 30:
            status = DIVORCED if rng.random() < 0.08 else SINGLE
        elif age < 60:
            status = rng.choices((SINGLE, DIVORCED, WIDOWED), weights=(45, 40, 15))[0]
        else:
            status = rng.choices((SINGLE, DIVORCED, WIDOWED), weights=(8, 12, 80))[0]
        return [self.member(gender, age, HEAD, status)]

    def couple_only(self) -> list[_Member]:
        """A young couple without children yet, or an older couple whose children have left."""
        if self.rng.random() < 0.45:
            age = self.rng.randint(21, 32)
        else:
            age = self.band(((50, 59, 35), (60, 69, 35), (70, 79, 22), (80, 92, 8)))
        return self.heads(*self.couple(age))

    def nuclear(self) -> list[_Member]:
        """A couple and their children (sometimes with a sibling of the head or another relative)."""
        age = self.band(((21, 29, 18), (30, 39, 34), (40, 49, 27), (50, 59, 15), (60, 72, 6)))
        husband, wife = self.couple(age)
        members = self.heads(husband, wife)
        members += self.children(husband, (wife.age, husband.age), CHILD, room=5, max_age=32)
        self.add_relative(members)
        return members

    def single_parent(self) -> list[_Member]:
        """A divorced or widowed parent (usually the mother) with children."""
        rng = self.rng
        gender = FEMALE if rng.random() < 0.8 else MALE
        age = self.band(((25, 34, 25), (35, 44, 35), (45, 54, 25), (55, 65, 15)))
        status = WIDOWED if rng.random() < (0.25 if age < 45 else 0.6) else DIVORCED
        head = self.member(gender, age, HEAD, status)
        if gender == FEMALE:  # the children's father is not in the household
            return [head, *self.children(None, (age, age + rng.randint(0, 6)), CHILD, room=4, max_age=30)]
        return [head, *self.children(head, (age - rng.randint(0, 6), age), CHILD, room=4, max_age=30)]

    def with_parents(self) -> list[_Member]:
        """A couple with their children and the head's parent(s)."""
        rng = self.rng
        husband, wife = self.couple(self.band(((25, 34, 30), (35, 44, 40), (45, 55, 30))))
        members = self.heads(husband, wife, wife_heads=0.15)
        head = members[0]
        father_age = head.age + rng.randint(22, 38)
        mother_age = father_age - rng.choice((-2, -1, 0, 1, 2, 3, 4, 5, 6, 7))
        if not (18 <= mother_age - head.age <= 42 and 18 <= father_age - head.age <= 45):
            return []
        father = self.member(MALE, father_age, PARENT, MARRIED, family=head.family)
        mother = self.member(FEMALE, mother_age, PARENT, MARRIED)
        roll = rng.random()
        if roll < 0.6:
            father.spouse, mother.spouse = mother, father
            members += [father, mother]
            head.father = father
        elif roll < 0.9:
            mother.marital = WIDOWED
            members.append(mother)
        else:
            father.marital = WIDOWED
            members.append(father)
            head.father = father
        members += self.children(husband, (wife.age, husband.age), CHILD, room=7 - len(members), max_age=30)
        return members

    def with_children(self) -> list[_Member]:
        """Elders (or a widowed elder), a married child with their spouse, and grandchildren."""
        rng = self.rng
        husband, wife = self.couple(self.band(((52, 59, 25), (60, 69, 40), (70, 79, 25), (80, 90, 10))))
        line: _Member | None = husband
        if rng.random() < 0.65:
            members = self.heads(husband, wife)
        else:  # a widowed elder heads the household
            survivor = wife if rng.random() < 0.75 else husband
            survivor.relation, survivor.marital, survivor.spouse = HEAD, WIDOWED, None
            members = [survivor]
            line = husband if survivor is husband else None
        son = rng.random() < 0.75
        child_age = wife.age - rng.randint(20, 34)
        if child_age < (21 if son else 19) or not 18 <= husband.age - child_age <= 45:
            return []
        child = self.member(MALE if son else FEMALE, child_age, CHILD, MARRIED, family=husband.family)
        child.father = line
        in_law_age = child_age - rng.randint(0, 6) if son else child_age + rng.randint(0, 6)
        in_law = self.member(FEMALE if son else MALE, max(18 if son else 20, in_law_age), OTHER, MARRIED)
        child.spouse, in_law.spouse = in_law, child
        members += [child, in_law]
        if rng.random() < 0.25:
            age = child_age - rng.randint(2, 10)
            if age >= 0 and wife.age - age <= 42 and husband.age - age <= 45:
                sibling = self.member(rng.choice((MALE, FEMALE)), age, CHILD, family=husband.family)
                sibling.father = line
                members.append(sibling)
        father, mother = (child, in_law) if son else (in_law, child)
        members += self.children(father, (mother.age, father.age), GRANDCHILD, room=7 - len(members), max_age=25)
        return members

    def young(self) -> list[_Member]:
        """A young adult living with a grandparent (and maybe a brother or sister)."""
        rng = self.rng
        head = self.member(rng.choice((MALE, FEMALE)), rng.randint(18, 32), HEAD)
        grandfather = self.member(MALE, head.age + rng.randint(45, 62), GRANDPARENT, MARRIED, head.family)
        grandmother = self.member(FEMALE, grandfather.age - rng.randint(-2, 6), GRANDPARENT, MARRIED)
        members = [head]
        if rng.random() < 0.5:
            grandfather.spouse, grandmother.spouse = grandmother, grandfather
            members += [grandfather, grandmother]
            head.father = grandfather  # the paternal line, for the hometown
        else:
            grandmother.marital = WIDOWED
            members.append(grandmother)
        if rng.random() < 0.4:
            age = max(10, head.age + rng.randint(-8, 8))
            sibling = self.member(rng.choice((MALE, FEMALE)), age, SIBLING, family=head.family)
            sibling.father = head.father
            members.append(sibling)
        return members

    # -- personal details -----------------------------------------------------------------------

    def birth_date(self, age: int) -> date:
        """A date of birth in the year ``age`` years before the latest possible one (yesterday)."""
        year = self.latest_birth.year - age
        start = date(year, 1, 1)
        end = min(date(year, 12, 31), self.latest_birth)
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def birth_place(self, member: _Member, home: WardInfo) -> None:
        """Pre-2025 province (and current ward) where the birth was registered: mostly near home."""
        rng = self.rng
        year = member.birth.year
        home_old = old_province_of_ward(home)
        indigenous = self.ethnicity in _INDIGENOUS
        local = (0.9 if year >= 1990 else 0.72) if home.province == "68" else 0.5
        if rng.random() < (0.95 if indigenous else local):
            member.born_in = home_old
        elif indigenous:  # the peoples of the southern Central Highlands and the south-central coast
            member.born_in = rng.choice(("068", "068", "067", "060", "066", "058"))
        else:
            weights = [w[0 if year < 1990 else 1] for w in _ELSEWHERE.values()]
            member.born_in = rng.choices(_ELSEWHERE_CODES, weights=weights)[0]
        if rng.random() < (0.3 if year < 1975 else 0.05):
            member.birth_ward = None
        elif member.born_in == home_old and rng.random() < 0.5:
            member.birth_ward = home.code
        else:
            member.birth_ward = pick_old_province_ward(rng, member.born_in).code

    def personal_id(self, member: _Member) -> str:
        """A new unique 12-digit personal id: birth province, century and gender, year, random."""
        century = 0 if member.birth.year < 2000 else 2
        digit = century + (0 if member.gender == MALE else 1)
        return _unique(self.rng, 6, self.ids, f"{member.born_in}{digit}{member.birth.year % 100:02d}")

    def cmnd(self, member: _Member, province: str) -> str | None:
        """Most people born before 2000 kept a record of their old 9-digit identity card."""
        if member.birth.year >= 2000 or self.rng.random() >= 0.6:
            return None
        prefix = "25" if province == "68" and self.rng.random() < 0.9 else CMND_PREFIXES[member.born_in]
        return _unique(self.rng, 7, self.cmnds, prefix)

    def hometown(self, member: _Member) -> tuple[str | None, str | None]:
        """Quê quán: the father's when he is in the household, else mostly the birth place."""
        if member.hometown is None:
            if member.father is not None and member.father is not member:
                member.hometown = self.hometown(member.father)
            elif self.rng.random() < 0.05:
                member.hometown = (None, None)
            else:
                old = member.born_in if self.rng.random() < 0.8 else self.rng.choice(_ELSEWHERE_CODES)
                ward = pick_old_province_ward(self.rng, old).code if self.rng.random() < 0.7 else None
                member.hometown = (OLD_TO_CURRENT_PROVINCE[old], ward)
        return member.hometown

    def death(self, member: _Member, youngest: date) -> None:
        """Perhaps record a death (more likely when old) in the last three years, after the
        youngest member of the household was born."""
        age = member.age
        risk = 0.0035 if age < 40 else 0.011 if age < 60 else 0.04 if age < 70 else 0.09 if age < 80 else 0.18
        if self.rng.random() >= risk:
            return
        start = max(self.today - timedelta(days=3 * 365), member.birth + timedelta(days=1), youngest)
        if start <= self.latest_birth:
            member.death = start + timedelta(days=self.rng.randrange((self.latest_birth - start).days + 1))

    def current_residence(self, member: _Member, home: WardInfo) -> tuple[str, str, str] | None:
        """(line, ward, province) where a living person stays away from home (students, workers)."""
        age = member.age
        chance = 0.34 if 18 <= age < 30 else 0.15 if 30 <= age < 45 else 0.08 if 45 <= age < 60 else 0.04
        chance = 0.01 if age < 15 else 0.12 if age < 18 else chance  # boarding pupils, students
        if member.death is not None or self.rng.random() >= chance:
            return None
        province = self.rng.choices(("68", "79", "75", "66", "56"), weights=(55, 25, 8, 6, 6))[0]
        ward = pick_ward(self.rng, province)
        while ward.code == home.code:
            ward = pick_ward(self.rng, province)
        return address_line(self.rng, ward), ward.code, province

    def updated(self, member: _Member) -> datetime:
        """Last update of the record (UTC): in the last three years, after the birth and death."""
        start = max(self.today - timedelta(days=3 * 365), member.birth, member.death or date.min)
        start_ts = datetime(start.year, start.month, start.day, tzinfo=UTC)
        end_ts = datetime(self.today.year, self.today.month, self.today.day, tzinfo=UTC)
        return start_ts + timedelta(seconds=self.rng.randrange(int((end_ts - start_ts).total_seconds())))

    def draw_members(self, room: int) -> list[_Member]:
        """The members of a new household of at most ``room`` people (a valid structure)."""
        rng = self.rng
        for _ in range(50):
            members = self.build(rng.choices(_HOUSEHOLD_TYPES, weights=_HOUSEHOLD_WEIGHTS)[0])
            if members and len(members) <= room and all(0 <= m.age <= 100 for m in members):
                return members
        return [self.member(rng.choice((MALE, FEMALE)), rng.randint(18, 80), HEAD)]

    def draw_home(self) -> WardInfo:
        """The ward of permanent residence of a new household: mostly Lâm Đồng, else a neighbour."""
        rng = self.rng
        province = "68" if rng.random() < 0.95 else rng.choice(("66", "56", "75"))
        region = _HOME_REGIONS.get(self.ethnicity)
        if province == "68" and region and rng.random() < 0.8:
            return pick_old_province_ward(rng, region)  # Chăm, Ra-glai: Bình Thuận; Mnông: Đắk Nông
        return pick_ward(rng, province)

    def household(self, room: int) -> list[dict[str, Any]]:
        """Rows of one new household of at most ``room`` members, head first."""
        rng = self.rng
        self.ethnicity = rng.choices(self.ethnic_codes, weights=self.ethnic_weights)[0]
        members = self.draw_members(room)
        home = self.draw_home()
        line = address_line(rng, home, village_style=self.ethnicity in {"16", "28", "20", "36"})
        household_id = _unique(rng, 12, self.households)
        names: set[str] = set()
        for m in members:
            m.birth = self.birth_date(m.age)
            for _ in range(20):  # no namesakes within a household
                m.name = full_name(rng, self.ethnicity, m.gender, m.birth.year, m.family)
                if m.name not in names:
                    break
            names.add(m.name)
        youngest = max(m.birth for m in members)
        for m in members:
            self.birth_place(m, home)
            self.death(m, youngest)
        for m in members:
            if m.spouse is not None and m.spouse.death is not None and m.death is None:
                m.marital = WIDOWED
        return [self.row(m, home, line, household_id) for m in members]

    def row(self, m: _Member, home: WardInfo, line: str, household_id: str) -> dict[str, Any]:
        """The ``cong_dan`` row of household member ``m``."""
        dob = m.birth.isoformat()
        if m.birth.year < 1960:  # the register sometimes knows only the year, or month and year
            roll = self.rng.random()
            dob = dob[:4] if roll < 0.03 else dob[:7] if roll < 0.04 else dob
        hometown = self.hometown(m)
        current = self.current_residence(m, home)
        return {
            "so_dinh_danh": self.personal_id(m),
            "so_cmnd": self.cmnd(m, home.province),
            "ho_ten": m.name,
            "gioi_tinh": m.gender,
            "ngay_sinh": dob,
            "ma_dan_toc": self.ethnicity,
            "ma_quoc_tich": "VN",
            "dk_khai_sinh_tinh": OLD_TO_CURRENT_PROVINCE[m.born_in],
            "dk_khai_sinh_xa": m.birth_ward,
            "que_quan_tinh": hometown[0],
            "que_quan_xa": hometown[1],
            "thuong_tru_chi_tiet": line,
            "thuong_tru_xa": home.code,
            "thuong_tru_tinh": home.province,
            "noi_o_chi_tiet": current[0] if current else None,
            "noi_o_xa": current[1] if current else None,
            "noi_o_tinh": current[2] if current else None,
            "ma_ho": household_id,
            "quan_he_chu_ho": m.relation,
            "tinh_trang_hon_nhan": m.marital,
            "ngay_mat": m.death,
            "ngay_cap_nhat": self.updated(m),
        }
