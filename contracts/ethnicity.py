"""The 54 ethnic groups of Viet Nam and their official two-digit codes.

Codes and names follow the list of the General Statistics Office (Decision 121-TCTK/PPCĐ of 2 March 1979),
which the national population database also uses: ``"01"`` Kinh to ``"54"`` Rơ-măm.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator

from contracts.common import JsonSchemaExtra

__all__ = ["ETHNIC_GROUPS", "EthnicGroupCode", "ethnic_group_name"]

_NAMES = (
    "Kinh", "Tày", "Thái", "Hoa", "Khơ-me", "Mường", "Nùng", "Hmông", "Dao", "Gia-rai",
    "Ngái", "Ê-đê", "Ba-na", "Xơ-đăng", "Sán Chay", "Cơ-ho", "Chăm", "Sán Dìu", "Hrê", "Mnông",
    "Ra-glai", "Xtiêng", "Bru-Vân Kiều", "Thổ", "Giáy", "Cơ-tu", "Gié-Triêng", "Mạ", "Khơ-mú", "Co",
    "Ta-ôi", "Chơ-ro", "Kháng", "Xinh-mun", "Hà Nhì", "Chu-ru", "Lào", "La Chí", "La Ha", "Phù Lá",
    "La Hủ", "Lự", "Lô Lô", "Chứt", "Mảng", "Pà Thẻn", "Cơ Lao", "Cống", "Bố Y", "Si La",
    "Pu Péo", "Brâu", "Ơ Đu", "Rơ-măm",
)  # fmt: skip

ETHNIC_GROUPS: Mapping[str, str] = MappingProxyType(
    {f"{number:02d}": name for number, name in enumerate(_NAMES, start=1)}
)
"""The 54 ethnic groups: two-digit code (``"01"`` .. ``"54"``) -> Vietnamese name; read-only."""


def ethnic_group_name(code: str) -> str:
    """Return the name of the ethnic group with two-digit ``code`` (``"05"`` -> ``"Khơ-me"``).

    Raises ``KeyError`` for an unknown code.
    """
    try:
        return ETHNIC_GROUPS[code]
    except KeyError:
        raise KeyError(f"{code!r} is not the code of one of the 54 ethnic groups (01-54)") from None


def _check_code(value: str) -> str:
    if value not in ETHNIC_GROUPS:
        raise ValueError(f"{value!r} is not an ethnic group code: use two digits from 01 (Kinh) to 54 (Rơ-măm)")
    return value


EthnicGroupCode = Annotated[
    str,
    AfterValidator(_check_code),
    JsonSchemaExtra(
        enum=list(ETHNIC_GROUPS),
        description=(
            "Two-digit code of one of the 54 ethnic groups of Viet Nam (General Statistics Office list): "
            + ", ".join(f"{code} {name}" for code, name in ETHNIC_GROUPS.items())
            + "."
        ),
        examples=["01", "16"],
    ),
]
"""The two-digit code of one of the 54 ethnic groups (``"01"`` = Kinh); its JSON Schema lists them all."""
