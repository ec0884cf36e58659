"""Personal identification numbers (số định danh cá nhân) and the old nine-digit identity card numbers.

A personal identification number has 12 digits, ``PPP G YY NNNNNN`` (Decree 137/2015/ND-CP, Circular
59/2021/TT-BCA):

* ``PPP``: the three-digit code of the (pre-2025) province where the birth was registered, one of
  :data:`contracts.provinces.BIRTH_REGISTRATION_PROVINCES`;
* ``G``: century and gender: 0/1 male/female born 1900-1999, 2/3 for 2000-2099, 4/5 for 2100-2199,
  6/7 for 2200-2299 and 8/9 for 2300-2399 (even = male, odd = female);
* ``YY``: the last two digits of the year of birth;
* ``NNNNNN``: a serial number. There is no check digit.

The same number is printed on the citizen identity card (căn cước công dân / căn cước) issued since 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from contracts.common import Gender, JsonSchemaExtra, require_ascii_digits
from contracts.provinces import BIRTH_REGISTRATION_PROVINCES

__all__ = [
    "Gender",
    "IdCardNumber",
    "PersonalId",
    "PersonalIdParts",
    "make_personal_id",
    "parse_personal_id",
]

FIRST_BIRTH_YEAR = 1900
"""The first year of birth a personal identification number can encode (G = 0 or 1)."""
LAST_BIRTH_YEAR = 2399
"""The last year of birth a personal identification number can encode (G = 8 or 9)."""
MAX_SERIAL = 999_999
"""The largest six-digit serial number."""


@dataclass(frozen=True, slots=True)
class PersonalIdParts:
    """The fields encoded in a personal identification number.

    ``province_code`` is the three-digit birth-registration province code (``"068"``), ``gender`` the
    gender from the century digit, ``birth_year`` the full four-digit year of birth and ``serial`` the
    last six digits as an integer (``123`` for ``"000123"``). The field names are the keyword arguments
    of :func:`make_personal_id`, so ``make_personal_id(**dataclasses.asdict(parts))`` rebuilds the number.
    """

    province_code: str
    gender: Gender
    birth_year: int
    serial: int


def _check_personal_id(value: str) -> str:
    require_ascii_digits(value, 12, "a personal identification number")
    if value[:3] not in BIRTH_REGISTRATION_PROVINCES:
        raise ValueError(
            f"a personal identification number starts with the three-digit code of the province where "
            f"the birth was registered (one of the 63 codes 001-096); {value[:3]!r} is not such a code"
        )
    return value


def parse_personal_id(value: str) -> PersonalIdParts:
    """Split a personal identification number into its parts.

    >>> parse_personal_id("068185000123")
    PersonalIdParts(province_code='068', gender=<Gender.FEMALE: 'female'>, birth_year=1985, serial=123)

    Raises ``ValueError`` if ``value`` is not 12 digits or does not start with a known province code.
    """
    _check_personal_id(value)
    century_gender = int(value[3])
    return PersonalIdParts(
        province_code=value[:3],
        gender=Gender.FEMALE if century_gender % 2 else Gender.MALE,
        birth_year=FIRST_BIRTH_YEAR + (century_gender // 2) * 100 + int(value[4:6]),
        serial=int(value[6:]),
    )


def make_personal_id(*, province_code: str, gender: Gender | str, birth_year: int, serial: int) -> str:
    """Build a personal identification number from its parts (the inverse of :func:`parse_personal_id`).

    ``province_code`` is a three-digit birth-registration province code, ``gender`` ``"male"`` or
    ``"female"``, ``birth_year`` between 1900 and 2399 and ``serial`` between 0 and 999999. Meant for
    test and demonstration data: real numbers are only ever assigned by the Ministry of Public Security.

    >>> make_personal_id(province_code="068", gender="female", birth_year=1985, serial=123)
    '068185000123'

    Raises ``ValueError`` when a part is out of range.
    """
    if province_code not in BIRTH_REGISTRATION_PROVINCES:
        raise ValueError(f"province_code {province_code!r} is not a three-digit birth-registration code")
    try:
        gender = Gender(gender)
    except ValueError:
        raise ValueError(f"gender must be 'male' or 'female', got {gender!r}") from None
    if not FIRST_BIRTH_YEAR <= birth_year <= LAST_BIRTH_YEAR:
        raise ValueError(f"birth_year must be between 1900 and 2399, got {birth_year}")
    if not 0 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be between 0 and 999999, got {serial}")
    century, year = divmod(birth_year - FIRST_BIRTH_YEAR, 100)
    century_gender = century * 2 + (1 if gender is Gender.FEMALE else 0)
    return f"{province_code}{century_gender}{year:02d}{serial:06d}"


PersonalId = Annotated[
    str,
    AfterValidator(_check_personal_id),
    JsonSchemaExtra(
        pattern=r"^[0-9]{12}$",
        description=(
            "12-digit personal identification number PPP G YY NNNNNN: PPP the pre-2025 code (001-096) of "
            "the province where the birth was registered, G century and gender (0/1 male/female born "
            "1900-1999, 2/3 2000-2099, ...), YY the last two digits of the year of birth, NNNNNN a serial."
        ),
        examples=["068185000123", "001090012345"],
    ),
]
"""A 12-digit personal identification number whose first three digits are a known province code."""


def _check_id_card_number(value: str) -> str:
    return require_ascii_digits(value, 9, "an identity card (CMND) number")


IdCardNumber = Annotated[
    str,
    AfterValidator(_check_id_card_number),
    JsonSchemaExtra(
        pattern=r"^[0-9]{9}$",
        description="Nine-digit number of the old identity card (chứng minh nhân dân, CMND).",
        examples=["250123456"],
    ),
]
"""The nine-digit number of the old identity card (chứng minh nhân dân, CMND), kept for matching."""
