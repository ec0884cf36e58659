"""``gateway audit ...``: reading, checking and sealing the tamper-evident audit trail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.main import require_current_schema

if TYPE_CHECKING:
    from gateway.audit.query import AuditEventOut, AuditPage
    from gateway.audit.verify import Report

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True, rich_markup_mode=None)

EXIT_TAMPERED = 1
EXIT_UNREADABLE = 3
_ANCHOR = re.compile(r"^([1-9][0-9]{0,18}):([0-9a-f]{64})$")


def _anchor(value: str) -> tuple[int, str]:
    match = _ANCHOR.fullmatch(value.strip().lower())
    if match is None:
        raise typer.BadParameter("expected SEQ:HASH, the hash as 64 hexadecimal digits")
    return int(match.group(1)), match.group(2)


def _trusted_keys(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The public keys of JWKS files (``{"keys": [{"kid": ..., ...}, ...]}``), by kid."""
    import orjson

    keys: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            jwks = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise typer.BadParameter(
                f"{path}: not a readable JSON file ({type(exc).__name__})", param_hint="--trusted-keys"
            ) from None
        listed = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(listed, list) or not all(
            isinstance(key, dict) and isinstance(key.get("kid"), str) for key in listed
        ):
            raise typer.BadParameter(
                f'{path}: expected a JWKS, {{"keys": [...]}}, each key with its "kid"', param_hint="--trusted-keys"
            )
        keys.update({key["kid"]: key for key in listed})
    return keys


@app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="A chain hash kept outside the database (a seal's log line, the output of `gateway audit seal`) "
            "that the chain must still match (repeat).",
        ),
    ] = None,
    trusted_keys: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted-keys",
            metavar="JWKS_FILE",
            help="A JWKS of the gateway's signing keys kept outside the database (its /.well-known/jwks.json, "
            "saved while they were published): seals by these keys are trusted, besides those by keys the data "
            "keys vouch for (repeat).",
        ),
    ] = None,
) -> None:
    """Check the whole audit trail; exit 0 with a one-line summary when intact, 1 naming the first bad event.

    Detected: an event altered (its hash no longer matches), deleted (a gap in seq), inserted, swapped or
    reordered (a broken prev_hash link), an altered index of data subjects, a rewritten or missing head, a seal
    that is not valid or does not match the chain, a seal by a key that is not the gateway's.

    A key is the gateway's when the data keys (GATEWAY_DATA_KEY, or the key file of the data directory) decrypt
    its private part in the database into that very key, or when it is in a --trusted-keys file: a public key
    alone in the database proves nothing, as whoever can write the database can add one. A seal by another key
    (one published without its private part, by an earlier version) is accepted below a seal by the gateway's key,
    which covers the chain up to it; above the last such seal it is a finding. Without data keys, --trusted-keys
    is needed.

    Truncation (the last events deleted) is detected when the head (audit_head) still names a later event; an
    attacker who also moves the head back is caught only if the cut goes below a seal still in the database, or
    below an --anchor given here. What lies after the last seal and anchor can be cut, or rewritten with its
    hashes recomputed, without a trace: seals are made every audit_seal_every_events events, every
    audit_seal_every_seconds and at shutdown, and logged ("audit chain sealed"); keep those log lines outside
    the database and pass the latest as --anchor to close that gap.

    Exit status: 0 intact, 1 not intact, 3 the database could not be read, or there is nothing to check the
    seals' keys with (no data key, no --trusted-keys).
    """
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.audit.storage import audit_engine
    from gateway.audit.verify import data_keys_of, verify_trail
    from gateway.core.settings import get_settings
    from gateway.identity.datakeys import DataKeyError

    anchors = [_anchor(value) for value in anchor or ()]
    trusted = _trusted_keys(trusted_keys or [])
    settings = get_settings()
    require_current_schema(settings.database_url)
    try:
        data_keys = data_keys_of(settings)
    except DataKeyError as exc:
        typer.echo(f"error: the data keys cannot be used: {exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if data_keys is None and not trusted:
        typer.echo(
            "error: nothing to check the seals' keys with: no data key (GATEWAY_DATA_KEY, or the file "
            f"{settings.data_key_file_path}) and no --trusted-keys",
            err=True,
        )
        raise typer.Exit(EXIT_UNREADABLE)

    async def run() -> Report:
        engine = audit_engine(settings.database_url, writer=False)
        try:
            return await verify_trail(engine, anchors, data_keys=data_keys, trusted_keys=trusted)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"error: cannot read the audit trail: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if not report.ok:
        typer.echo(report.summary(), err=True)
        raise typer.Exit(EXIT_TAMPERED)
    typer.echo(report.summary())


@app.command("seal")
def audit_seal(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="The last anchor kept outside the database: nothing is sealed unless the chain still holds it.",
        ),
    ] = None,
) -> None:
    """Seal the chain head now with the gateway's signing key, and print it as an anchor (SEQ:HASH) to keep
    outside the database (see `gateway audit verify --anchor`).

    A seal signs the chain as the command finds it: whoever can write the database could have cut or rewritten
    the events after the last seal, and deleted the seals above them. With --anchor (the last anchor kept), the
    chain must still hold that hash at that seq, else nothing is sealed and the command exits 1.
    """
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.audit.storage import HeadMissing, audit_engine, read_head
    from gateway.audit.writer import ChainAltered, seal_head
    from gateway.core.settings import get_settings
    from gateway.identity.datakeys import DataKeyError, DataKeys
    from gateway.identity.signing_keys import SigningKeyUnavailable, active_signing_key

    known = None if anchor is None else _anchor(anchor)
    settings = get_settings()
    require_current_schema(settings.database_url)

    async def run() -> tuple[int, str, str | None] | None:
        engine = audit_engine(settings.database_url, writer=True)
        try:
            async with AsyncSession(engine) as session:
                key = await active_signing_key(session, DataKeys.from_settings(settings))
            async with engine.begin() as connection:
                seal = await seal_head(connection, key, known=known)
                if seal is not None:
                    return seal.seq, seal.hash, seal.kid
                head = await read_head(connection)
                return None if head is None or head[0] == 0 else (head[0], head[1], None)
        finally:
            await engine.dispose()

    try:
        sealed = asyncio.run(run())
    except (SigningKeyUnavailable, DataKeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ChainAltered as exc:
        typer.echo(f"error: not sealed: the chain no longer holds the anchor given: {exc}", err=True)
        raise typer.Exit(EXIT_TAMPERED) from None
    except (SQLAlchemyError, OSError, HeadMissing) as exc:
        typer.echo(f"error: cannot seal the audit trail: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if sealed is None:
        typer.echo("the audit trail is empty: nothing to seal")
        return
    seq, hash_, kid = sealed
    typer.echo(f"{seq}:{hash_}")
    typer.echo(f"sealed by key {kid}" if kid else "(the head was sealed already)", err=True)


def _event_line(event: AuditEventOut) -> str:
    """One event as a tab-separated line: seq, time, request id, client, actor, operation, action, target, outcome,
    status, reason, and what changed (compact JSON), ``-`` for what it does not have."""
    import orjson

    from gateway.cli.clients import shown

    def text(value: object) -> str:
        return "-" if value is None else str(value)

    change = "-" if event.change is None else orjson.dumps(event.change, option=orjson.OPT_SORT_KEYS).decode()
    values = (
        str(event.seq),
        event.occurred_at.isoformat(timespec="seconds"),
        event.request_id,
        text(event.client_id),
        text(event.actor),
        event.operation,
        text(event.action),
        text(event.target_client),
        event.outcome,
        str(event.status),
        text(event.reason),
        change,
    )
    return "\t".join(shown(value) for value in values)


@app.command("events")
def audit_events(
    *,
    client: Annotated[str | None, typer.Option(help="Only the requests of this client.")] = None,
    target: Annotated[
        str | None,
        typer.Option(help="Only what administrators did to this client (or asked to), by the API or this command."),
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this administrative action: grant.add, grant.revoke, client.update, ...")
    ] = None,
    operation: Annotated[str | None, typer.Option(help="read, search, submit, token, admin, audit, ...")] = None,
    database: Annotated[str | None, typer.Option(help="Only exchanges with this national database.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only the exchanges that touched this record id.")] = None,
    outcome: Annotated[str | None, typer.Option(help="allowed, refused or failed.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601; UTC when no offset).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601; UTC when no offset).")] = None,
    oldest_first: Annotated[bool, typer.Option("--oldest-first", help="Oldest first (default: newest first).")] = False,
    limit: Annotated[int, typer.Option(help="Events to print.", min=1, max=500)] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="The next page: the cursor printed after the previous one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the audit API's answer).")] = False,
) -> None:
    """Print audit events, newest first, one per line: seq, time, request id, client, actor, operation, action,
    target client, outcome, status, reason, change. The filters are those of GET /v1/audit.

    Who gave a client access, and when: `gateway audit events --target CLIENT --action grant.add` (each line's
    change names the grant's database, operations, fields and purposes). The command line's own changes are there
    too: no client, the OS user who ran them as actor, a request id starting with cli-.
    """
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.audit.query import AuditFilters, search_events
    from gateway.audit.storage import audit_engine
    from gateway.cli.clients import echo_json, fail
    from gateway.core.problems import Problem
    from gateway.core.settings import get_settings
    from gateway.identity.grants import validated

    given: dict[str, Any] = {
        name: value
        for name, value in (
            ("client", client),
            ("target", target),
            ("action", action),
            ("operation", operation),
            ("database", database),
            ("subject", subject),
            ("outcome", outcome),
            ("since", since),
            ("until", until),
            ("cursor", cursor),
        )
        if value is not None
    }
    given |= {"order": "asc" if oldest_first else "desc", "limit": limit}
    try:
        filters = validated(AuditFilters, given)
    except Problem as problem:
        fail(problem, given)
    settings = get_settings()
    require_current_schema(settings.database_url)

    async def run() -> AuditPage:
        engine = audit_engine(settings.database_url, writer=False)
        try:
            async with engine.connect() as connection:
                return await search_events(connection, filters)
        finally:
            await engine.dispose()

    try:
        page = asyncio.run(run())
    except Problem as problem:  # a cursor issued for other filters
        fail(problem, given)
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"error: cannot read the audit trail: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        echo_json(page)
        return
    for event in page.items:
        typer.echo(_event_line(event))
    if page.next_cursor is not None:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)
