"""Checking the whole audit trail: the chain, its index of data subjects, its head and its seals.

Read in one snapshot of the database (writers may go on meanwhile), the trail is intact when:

* the events are numbered 1, 2, ... without a gap, each one's ``hash`` is the hash of its content and each
  one's ``prev_hash`` is the hash of the event before (the genesis value for the first);
* ``audit_subjects`` holds exactly the record ids of each event;
* the head (``audit_head``) names the last event and its hash;
* every seal is signed by the key it names and matches the chain's hash at its ``seq``, and no seal (nor any
  anchor given) lies beyond the end of the chain;
* every seal is signed by a key that is the gateway's beyond doubt, or lies below such a seal.

Which keys are the gateway's beyond doubt: a public key in ``signing_keys`` proves nothing by itself, since
whoever can write the database can add one and re-sign every seal with it. A key is trusted when the private part
stored beside it decrypts with the data keys (which are not in the database) into that very key, or when the
verifier was given it (``trusted``: the JWKS the gateway published, saved by an auditor). Retired keys keep their
private part (encrypted again at each data key rotation), so the seals they made stay verifiable. A seal by any
other key (a key published without its private part, as the keys of the file-based versions, or one whose part no
data key decrypts) is accepted only below a seal by a trusted key: that seal covers the chain up to it, the other
adds nothing to it. Above the last trusted seal, such a seal is a finding.

The report names the first bad ``seq`` and why.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit._seals import Seal, seal_problem
from gateway.audit.events import GENESIS, event_hash, subject_ids
from gateway.audit.storage import EVENTS, SEALS, SIGNING_KEYS, SUBJECTS, consistent_read, read_head
from gateway.identity.datakeys import DataKeyError, DataKeys
from gateway.identity.models import SigningKey
from gateway.identity.signing_keys import SigningKeyUnavailable, decrypt_signing_key

if TYPE_CHECKING:
    from gateway.core.settings import Settings

_PAGE = 2000
# At one seq, a break of the chain explains the rest: report it before a seal or index finding.
_CHAIN, _SEAL, _INDEX = 0, 1, 2


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """Something wrong at ``seq``."""

    seq: int
    rank: int
    message: str


@dataclass
class Report:
    """What ``verify`` found."""

    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    head: tuple[int, str] | None = None
    seals: int = 0
    last_seal: int | None = None
    #: Seals by keys nothing vouches for, below the last seal by a trusted key (which covers them), and their keys.
    covered: int = 0
    covered_keys: list[str] = field(default_factory=list)
    last_trusted_seal: int | None = None
    anchors: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def problem(self) -> Finding | None:
        """The first bad event (lowest ``seq``), if any."""
        return min(self.findings, default=None)

    @property
    def ok(self) -> bool:
        """Whether the trail is intact."""
        return not self.findings

    def summary(self) -> str:
        """One line: what was verified, or the first bad event and why."""
        problem = self.problem
        if problem is not None:
            return f"audit trail NOT intact: first bad event seq {problem.seq}: {problem.message}"
        if self.events == 0:
            return "audit trail intact: no events yet"
        sealed = (
            f"{self.seals} seals verified, the last at seq {self.last_seal} ({self.last_seq - self.last_seal} "
            "events after it)"
            if self.last_seal is not None
            else "no seal yet"
        )
        if self.covered:
            sealed += (
                f"; {self.covered} of them by keys nothing vouches for ({', '.join(self.covered_keys)}), "
                f"covered by the seal at seq {self.last_trusted_seal}"
            )
        anchors = f", {self.anchors} anchors matched" if self.anchors else ""
        return (
            f"audit trail intact: {self.events} events (seq 1..{self.last_seq}), head {self.last_hash}, "
            f"{sealed}{anchors}"
        )


class _Peekable:
    """An async iterator of rows that can look one row ahead."""

    def __init__(self, rows: AsyncIterator[Any]) -> None:
        self._rows = rows
        self._next: Row[Any] | None = None
        self._done = False

    async def peek(self) -> Row[Any] | None:
        if self._next is None and not self._done:
            try:
                self._next = await anext(self._rows)
            except StopAsyncIteration:
                self._done = True
        return self._next

    async def take(self) -> Row[Any] | None:
        row = await self.peek()
        self._next = None
        return row


async def _seals(connection: AsyncConnection) -> dict[int, Seal]:
    rows = await connection.execute(sa.select(SEALS).order_by(SEALS.c.seq))
    return {
        row.seq: Seal(seq=row.seq, hash=row.hash, kid=row.kid, signature=row.signature, sealed_at=row.sealed_at)
        for row in rows
    }


@dataclass(frozen=True, slots=True)
class _SealKeys:
    """The keys seals may name: ``trusted`` (kid to public JWK) are the gateway's beyond doubt; ``doubted`` (kid
    to its public JWK as stored, and why it is not trusted) are the other keys of ``signing_keys``."""

    trusted: dict[str, dict[str, Any]]
    doubted: dict[str, tuple[dict[str, Any], str]]


async def _seal_keys(
    connection: AsyncConnection, data_keys: DataKeys | None, trusted: Mapping[str, Mapping[str, Any]]
) -> _SealKeys:
    """Sort the keys of ``signing_keys`` (see the module's description): a key given in ``trusted`` is checked
    with the JWK given; a key whose stored private part the data keys decrypt into that key, with the public JWK
    of that private part (not the stored one); the others are doubted."""
    rows = await connection.execute(
        sa.select(SIGNING_KEYS.c.kid, SIGNING_KEYS.c.algorithm, SIGNING_KEYS.c.public_jwk, SIGNING_KEYS.c.private_key)
    )
    keys = _SealKeys({kid: dict(jwk) for kid, jwk in trusted.items()}, {})
    for row in rows:
        if row.kid in keys.trusted:
            continue
        if data_keys is None:
            keys.doubted[row.kid] = (dict(row.public_jwk), "no data key was given to check its private part")
            continue
        stored = SigningKey(
            kid=row.kid, algorithm=row.algorithm, public_jwk=dict(row.public_jwk), private_key=row.private_key
        )
        try:
            keys.trusted[row.kid] = dict(decrypt_signing_key(stored, data_keys).jwk)
        except (SigningKeyUnavailable, DataKeyError) as exc:
            keys.doubted[row.kid] = (dict(row.public_jwk), str(exc))
    return keys


def _check_seals(report: Report, seals: dict[int, Seal], keys: _SealKeys) -> None:
    """Each seal's signature by the key it names; then whether that key is trusted, or the seal covered by a
    later seal of a trusted key (see the module's description)."""
    published = {**{kid: jwk for kid, (jwk, _why) in keys.doubted.items()}, **keys.trusted}
    doubtful: dict[int, str] = {}
    for seq, seal in seals.items():
        why = seal_problem(seal, published)
        if why is not None:
            report.findings.append(Finding(seq, _SEAL, f"the seal at this seq is not valid: {why}"))
        elif seal.kid in keys.trusted:
            report.last_trusted_seal = max(seq, report.last_trusted_seal or 0)
        else:
            doubtful[seq] = seal.kid
    covered = set()
    for seq, kid in doubtful.items():
        if report.last_trusted_seal is not None and seq < report.last_trusted_seal:
            report.covered += 1
            covered.add(kid)
            continue
        report.findings.append(
            Finding(
                seq,
                _SEAL,
                f"the seal at this seq is not trusted: its key {kid} is not vouched for ({keys.doubted[kid][1]}), "
                "and no later seal by a trusted key covers it. Anyone able to write the database can add a public "
                "key and sign seals with it: a key is trusted when the data keys decrypt its private part, or when "
                "it is given with --trusted-keys (the gateway's published JWKS, saved elsewhere)",
            )
        )
    report.covered_keys = sorted(covered)


class _Walk:
    """One pass over the events in ``seq`` order, with the subject index alongside."""

    def __init__(self, report: Report, seals: dict[int, Seal], anchors: dict[int, str], subjects: _Peekable):
        self.report = report
        self.seals = seals
        self.anchors = anchors
        self.subjects = subjects
        self.index_broken = False

    def find(self, seq: int, rank: int, message: str) -> None:
        self.report.findings.append(Finding(seq, rank, message))

    async def event(self, row: Row[Any], expected: int, prev_hash: str) -> bool:
        """Check one event; ``False`` when the chain breaks here (nothing after it can be trusted)."""
        data = row._mapping
        seq = int(data["seq"])
        if seq != expected:
            self.find(
                expected,
                _CHAIN,
                f"missing: the chain jumps from seq {expected - 1} to seq {seq} (events were deleted)"
                if expected > 1
                else f"missing: the chain starts at seq {seq} (events were deleted)",
            )
            return False
        if event_hash(dict(data)) != data["hash"]:
            self.find(seq, _CHAIN, "its content does not match its hash (the event was altered)")
            return False
        if data["prev_hash"] != prev_hash:
            self.find(
                seq,
                _CHAIN,
                f"its prev_hash is not the hash of seq {seq - 1} (an event was inserted, removed or reordered, "
                f"or seq {seq - 1} was rewritten)",
            )
            return False
        seal = self.seals.get(seq)
        if seal is not None and seal.hash != data["hash"]:
            self.find(seq, _SEAL, "the chain's hash here differs from the sealed one (the chain was rewritten)")
        anchor = self.anchors.get(seq)
        if anchor is not None and anchor != data["hash"]:
            self.find(seq, _SEAL, "the chain's hash here differs from the anchor given (the chain was rewritten)")
        await self._index(seq, data["record_ids"])
        return True

    async def _index(self, seq: int, record_ids: Iterable[str]) -> None:
        if self.index_broken:
            return
        await self.orphans(before=seq)
        indexed = []
        while (row := await self.subjects.peek()) is not None and row.seq == seq:
            indexed.append(str(row.subject_id))
            await self.subjects.take()
        if indexed != subject_ids(record_ids):
            self.find(seq, _INDEX, "audit_subjects does not list exactly its record ids (the index was altered)")
            self.index_broken = True

    async def orphans(self, before: int | None = None) -> None:
        """Index rows for a ``seq`` that is not in the chain (below ``before``, or anywhere when ``None``)."""
        row = await self.subjects.peek()
        if not self.index_broken and row is not None and (before is None or row.seq < before):
            self.find(int(row.seq), _INDEX, "audit_subjects lists an event that is not in the chain")
            self.index_broken = True


async def verify_trail(
    engine: AsyncEngine,
    anchors: Sequence[tuple[int, str]] = (),
    *,
    data_keys: DataKeys | None,
    trusted_keys: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """Verify the whole trail (see the module's description); ``anchors`` are ``(seq, hash)`` pairs kept
    outside the database (a seal's log line, a printed head) that the chain must still match. The gateway's data
    keys (``data_keys``) tell its signing keys in the database from keys added there; ``trusted_keys`` (kid to
    public JWK) are keys trusted besides."""
    report = Report(anchors=len(anchors))
    async with engine.connect() as plain, consistent_read(plain) as connection:
        report.head = await read_head(connection)
        seals = await _seals(connection)
        keys = await _seal_keys(connection, data_keys, trusted_keys or {})
        report.seals = len(seals)
        report.last_seal = max(seals, default=None)
        _check_seals(report, seals, keys)
        events = await connection.stream(sa.select(EVENTS).order_by(EVENTS.c.seq).execution_options(yield_per=_PAGE))
        subjects = await connection.stream(
            sa.select(SUBJECTS.c.seq, SUBJECTS.c.subject_id)
            .order_by(SUBJECTS.c.seq, SUBJECTS.c.subject_id)
            .execution_options(yield_per=_PAGE)
        )
        walk = _Walk(report, seals, dict(anchors), _Peekable(subjects.__aiter__()))
        intact = True
        async for row in events:
            if not await walk.event(row, report.last_seq + 1, report.last_hash):
                intact = False
                break
            report.events += 1
            report.last_seq, report.last_hash = int(row.seq), str(row.hash)
        if intact:
            await walk.orphans()
            _check_tail(report, seals, anchors)
        await events.close()
        await subjects.close()
    return report


def _check_tail(report: Report, seals: dict[int, Seal], anchors: Sequence[tuple[int, str]]) -> None:
    """The head, and the seals and anchors beyond the last event: where truncation shows."""
    last = report.last_seq
    find = report.findings.append
    if report.head is None:
        if last:
            find(Finding(last, _CHAIN, "the chain's head record (audit_head) is missing"))
    else:
        head_seq, head_hash = report.head
        if head_seq > last:
            find(
                Finding(
                    last + 1,
                    _CHAIN,
                    f"missing: the head is at seq {head_seq} but the chain ends at seq {last} (the tail was truncated)",
                )
            )
        elif head_seq < last:
            find(
                Finding(
                    head_seq + 1,
                    _CHAIN,
                    f"beyond the head (seq {head_seq}): events were appended behind the gateway's back, or the "
                    "head was moved back",
                )
            )
        elif head_hash != report.last_hash:
            find(Finding(last, _CHAIN, "the head's hash is not this event's hash (the head was rewritten)"))
    beyond = [seq for seq in seals if seq > last] + [seq for seq, _hash in anchors if seq > last]
    if beyond:
        find(
            Finding(
                last + 1,
                _SEAL,
                f"missing: seq {min(beyond)} was sealed (or anchored) but the chain ends at seq {last} "
                "(the tail was truncated)",
            )
        )


def data_keys_of(settings: Settings) -> DataKeys | None:
    """The data keys of ``settings`` to tell the gateway's signing keys by (``GATEWAY_DATA_KEY``, else the key
    file), ``None`` when there are none: unlike the gateway's start, a verification never generates a key file.
    :class:`DataKeyError` when ``GATEWAY_DATA_KEY`` is malformed."""
    if settings.data_key is not None:
        return DataKeys(keys=settings.data_key.get_secret_value().split(","))
    path = settings.data_key_file_path
    return DataKeys(path=path) if path.is_file() else None


def _data_key_source(settings: Settings) -> dict[str, str]:
    """Where the child finds the data keys of ``settings`` (see :func:`data_keys_of`)."""
    if settings.data_key is not None:
        return {"data_key": settings.data_key.get_secret_value()}
    return {"data_key_file": str(settings.data_key_file_path)}


class VerificationUnavailable(ConnectionError):
    """The child verifying the trail could not reach the database (nothing was verified)."""


async def verify_in_child(
    database_url: str, *, settings: Settings | None = None, anchors: Sequence[tuple[int, str]] | None = None
) -> tuple[bool, str]:
    """Verify the trail of ``database_url`` in a child process (``python -m gateway.audit.verify``): ``(ok,
    summary)``. The chain must hold ``anchors``, by default the positions this process's audit writers wrote
    (:func:`gateway.audit.writer.known_anchors`: kept in memory, outside the database, they show a chain cut or
    rewritten after its last seal). The walk hashes every event, for as long as the chain is long (minutes for ten
    million events): in a thread it would hold this process's interpreter lock and starve the requests; a child runs
    beside them.
    The seals' keys are checked with the data keys of ``settings`` (else of the settings the child finds in its
    environment, which it inherits: the gateway's own when the ``gateway`` command started it). The URL and where
    the data keys are go on the child's standard input (never its command line). A cancelled call kills the child.
    Raises :class:`VerificationUnavailable` when the database cannot be reached, ``RuntimeError`` when the
    verification failed to run."""
    if anchors is None:
        from gateway.audit.writer import known_anchors

        anchors = known_anchors(database_url)
    order: dict[str, Any] = {"url": database_url, "anchors": [list(anchor) for anchor in anchors]}
    if settings is not None:
        order.update(_data_key_source(settings))
    # Not one of the workers whose metrics the scrape adds up: no files of its own in their directory.
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.audit.verify",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate(orjson.dumps(order))
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"the verification exited with {process.returncode}: {err.decode()[-300:].strip()}")
    answer = orjson.loads(lines[-1])
    if "unavailable" in answer:
        raise VerificationUnavailable(answer["unavailable"])
    if "failed" in answer:
        raise RuntimeError(answer["failed"])
    return bool(answer["ok"]), str(answer["summary"])


def _child_data_keys(order: Mapping[str, Any]) -> DataKeys | None:
    """The data keys :func:`verify_in_child` names, else those of the settings of this process's environment."""
    from pathlib import Path

    from gateway.core.settings import get_settings

    if "data_key" in order:
        return DataKeys(keys=order["data_key"].split(","))
    if "data_key_file" in order:
        path = Path(order["data_key_file"])
        return DataKeys(path=path) if path.is_file() else None
    return data_keys_of(get_settings())


def _child() -> None:
    """``python -m gateway.audit.verify``: verify the trail of the database named on standard input (see
    :func:`verify_in_child`) and print one JSON line: ``{"ok", "summary"}``, ``{"unavailable": ...}`` or
    ``{"failed": ...}``."""
    from gateway.core.db import create_engine
    from gateway.core.outages import database_unavailable, error_name

    order = orjson.loads(sys.stdin.read())

    async def verify() -> Report:
        engine = create_engine(order["url"])
        try:
            anchors = [(int(seq), str(hash_)) for seq, hash_ in order.get("anchors", [])]
            return await verify_trail(engine, anchors, data_keys=_child_data_keys(order))
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(verify())
        answer: dict[str, Any] = {"ok": report.ok, "summary": report.summary()}
    except Exception as exc:
        answer = {"unavailable" if database_unavailable(exc) else "failed": error_name(exc)}
    sys.stdout.write(orjson.dumps(answer).decode() + "\n")


if __name__ == "__main__":
    _child()
