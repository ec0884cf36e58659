"""Rules of the *clean* dimension for every contract: no two records share a key or an identity, and names and
address lines are written in their normal form."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Final

from contracts.names import clean_name
from gateway.quality._generic import is_empty
from gateway.quality.rules import (
    OK,
    SKIP,
    Dimension,
    Failure,
    MappingRule,
    NotApplicable,
    Outcome,
    Rule,
    RuleContext,
    Unverified,
    mask_key,
    unverified,
    where,
)

__all__ = [
    "SEARCH_CONCURRENCY",
    "AddressesNormalised",
    "IdentityKey",
    "IdentityQuery",
    "NamesNormalised",
    "UniqueIdentity",
    "UniqueKey",
]


class UniqueKey(Rule):
    """No two records of the batch share the record key (the later ones are the duplicates)."""

    dimension = Dimension.CLEAN
    slug = "unique_key"

    def __init__(self, contract_name: str, key: str) -> None:
        super().__init__(contract_name)
        self.title = f"No duplicate {key}"
        self.title_vi = "Không trùng khóa bản ghi"
        self.key = key

    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        seen: set[str] = set()
        outcomes: list[Outcome] = []
        for record in records:
            value = record.get(self.key)
            if is_empty(value):
                outcomes.append(SKIP)
                continue
            normal = str(value).strip().upper()
            outcomes.append(Failure(f"{self.key} appears more than once") if normal in seen else OK)
            seen.add(normal)
        return outcomes


IdentityKey = Callable[[Mapping[str, Any]], Hashable | None]
"""The identity attributes of a record (``None`` when it lacks them): two records with equal identities describe
the same real-world thing (the same person registered under two ids, the same vehicle under two plates)."""

IdentityQuery = Callable[[Mapping[str, Any]], dict[str, Any] | None]
"""The search (fields of the contract's query model) that finds the records which may share a record's identity."""

SEARCH_CONCURRENCY: Final = 8
"""Searches one rule runs at once."""


class UniqueIdentity(Rule):
    """No other record describes the same thing under another key (a person registered twice).

    Every record of a group sharing one identity fails. The other records are looked for in the batch and, when the
    scanned database can be searched (:attr:`~gateway.quality.rules.Lookups.search`), in the whole database, so that
    a sample finds the duplicates of the records it holds whether or not it holds their twins. A record without a
    duplicate in the batch whose search the database left unanswered is unverified (one whose query it cannot run
    is judged by the batch alone, as without a search).
    """

    dimension = Dimension.CLEAN
    slug = "unique_identity"

    def __init__(
        self,
        contract_name: str,
        key: str,
        identity: IdentityKey,
        *,
        what: str,
        what_vi: str,
        query: IdentityQuery | None = None,
    ) -> None:
        super().__init__(contract_name)
        self.title = f"No duplicate identities ({what})"
        self.title_vi = f"Không trùng danh tính ({what_vi})"
        self.key = key
        self.identity = identity
        self.what = what
        self.query = query

    def _identity(self, record: Mapping[str, Any]) -> Hashable | None:
        try:
            return self.identity(record)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    async def _elsewhere(
        self, records: Sequence[Mapping[str, Any]], context: RuleContext
    ) -> list[set[str] | Unverified]:
        """For each record, the keys of other records of the database with its identity (found by searching), or
        how its search went unanswered."""
        search = context.lookups.search if context.lookups else None
        found: list[set[str] | Unverified] = [set() for _ in records]
        if search is None or self.query is None:
            return found
        gate = asyncio.Semaphore(SEARCH_CONCURRENCY)

        async def one(index: int, record: Mapping[str, Any]) -> None:
            identity, query = self._identity(record), self.query(record) if self.query else None
            if identity is None or not query:
                return
            async with gate:
                try:
                    matches = await search(query)
                except NotApplicable:
                    return
                except LookupError as exc:
                    found[index] = unverified(exc)
                    return
            own = str(record.get(self.key))
            found[index] = {
                str(match.get(self.key))
                for match in matches
                if str(match.get(self.key)) != own and self._identity(match) == identity
            }

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))
        return found

    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        identities = [self._identity(record) for record in records]
        keys: dict[Hashable, set[str]] = {}
        for record, identity in zip(records, identities, strict=True):
            if identity is not None:
                keys.setdefault(identity, set()).add(str(record.get(self.key)))
        elsewhere = await self._elsewhere(records, context)
        outcomes: list[Outcome] = []
        for record, identity, found in zip(records, identities, elsewhere, strict=True):
            if identity is None:
                outcomes.append(SKIP)
                continue
            searched = found if isinstance(found, set) else set()
            others = sorted((keys[identity] | searched) - {str(record.get(self.key))})
            if others:
                shown = ", ".join(mask_key(other) for other in others[:3])
                outcomes.append(Failure(f"same {self.what} as record {shown}", weight=len(others)))
            else:
                outcomes.append(found if isinstance(found, Unverified) else OK)
        return outcomes


def _name_problems(value: str) -> list[str]:
    problems = []
    if unicodedata.normalize("NFC", value) != value:
        problems.append("not in Unicode NFC")
    if " ".join(value.split()) != value:
        problems.append("extra spaces")
    if clean_name(value) != " ".join(unicodedata.normalize("NFC", value).split()):
        problems.append("non-standard apostrophe or hyphen")
    letters = [ch for ch in value if ch.isalpha()]
    if len(letters) > 1 and value == value.upper():
        problems.append("all upper case")
    elif len(letters) > 1 and value == value.lower():
        problems.append("all lower case")
    return problems


class NamesNormalised(MappingRule):
    """Every full name in the record is written in its normal form: Unicode NFC, single spaces, standard
    apostrophes and hyphens, not all in upper or lower case."""

    dimension = Dimension.CLEAN
    slug = "names_normalised"
    title = "Names are normalised"
    title_vi = "Họ tên được chuẩn hóa"

    def problems(self, path: str, item: Mapping[str, Any], context: RuleContext) -> list[str] | None:
        value = item.get("full_name")
        if not isinstance(value, str):
            return None
        return [f"{where(path, 'full_name')}: {problem}" for problem in _name_problems(value)]


class AddressesNormalised(MappingRule):
    """Every address line in the record is in Unicode NFC with single spaces and no control characters."""

    dimension = Dimension.CLEAN
    slug = "addresses_normalised"
    title = "Addresses are normalised"
    title_vi = "Địa chỉ được chuẩn hóa"

    def problems(self, path: str, item: Mapping[str, Any], context: RuleContext) -> list[str] | None:
        line = item.get("line")
        if not isinstance(line, str) or "ward_code" not in item:
            return None
        problems = []
        if unicodedata.normalize("NFC", line) != line:
            problems.append("not in Unicode NFC")
        if " ".join(line.split()) != line:
            problems.append("extra spaces")
        if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in line):
            problems.append("control characters")
        return [f"{where(path, 'line')}: {problem}" for problem in problems]
