"""``gateway keys ...``: clients' public keys (``private_key_jwt``), the gateway's signing keys, and the data key
that encrypts stored webhook secrets and the signing keys' private parts.

Running gateway processes see a registered or revoked client key at the next token request, and a rotated or
imported signing key at once on PostgreSQL (``NOTIFY``), else within ``GATEWAY_SIGNING_KEY_REFRESH_SECONDS``:
the keys live in the database.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from gateway.cli.main import require_current_schema, require_data_keys

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlmodel.ext.asyncio.session import AsyncSession

    from gateway.cli.recorded import Change
    from gateway.core.problems import Problem
    from gateway.identity.client_keys import ClientKeyPublic
    from gateway.identity.datakeys import DataKeys
    from gateway.identity.request_state import AdminDescriptor

app = typer.Typer(
    help="Keys: clients' public keys (private_key_jwt) and the gateway's signing key.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the admin API's answer).")]


def _run(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``action`` on the gateway's database (its schema must be current); a problem is printed, exit 1."""
    import asyncio

    from gateway.core.db import standalone_session
    from gateway.core.logs import configure_logging
    from gateway.core.problems import Problem
    from gateway.core.settings import get_settings

    settings = get_settings()
    require_current_schema(settings.database_url)
    # Logs (a rotation is logged) go to stderr: stdout carries the answer only.
    configure_logging(level=settings.log_level, fmt=settings.log_format)

    async def run() -> T:
        async with standalone_session(settings.database_url) as session:
            return await action(session)

    try:
        return asyncio.run(run())
    except Problem as problem:
        _fail(problem)


def _fail(problem: Problem) -> NoReturn:
    typer.echo(f"error: {problem.detail or problem.title}", err=True)
    for error in problem.extensions.get("errors", []):
        typer.echo(f"  {error.get('msg', '')}", err=True)
    raise typer.Exit(1) from None


def _run_recorded(change: Change[T], *, on_failure: str | None = None) -> T:
    """:func:`_run` for a change, committed with its audit event (:mod:`gateway.cli.recorded`); a problem, or an
    event that could not be appended (nothing is changed then), is printed, then ``on_failure`` if given, exit 1."""
    import asyncio

    from gateway.cli.recorded import NotRecorded, not_recorded_message, run_recorded
    from gateway.core.logs import configure_logging
    from gateway.core.problems import Problem
    from gateway.core.settings import get_settings

    settings = get_settings()
    require_current_schema(settings.database_url)
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    try:
        return asyncio.run(run_recorded(settings.database_url, change))
    except Problem as problem:
        if on_failure is not None:
            typer.echo(on_failure, err=True)
        _fail(problem)
    except NotRecorded as exc:
        typer.echo(not_recorded_message(exc), err=True)
        if on_failure is not None:
            typer.echo(on_failure, err=True)
        raise typer.Exit(1) from None


def _echo_json(value: BaseModel | Sequence[BaseModel]) -> None:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in value], indent=2, ensure_ascii=False))


def _moment(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _key_row(key: ClientKeyPublic) -> str:
    status = "revoked" if key.revoked_at is not None else "active"
    return "\t".join((key.kid, key.client_id, key.algorithm, status, _moment(key.not_after), _moment(key.created_at)))


@app.command("register")
def keys_register(
    client_id: Annotated[str, typer.Argument(help="The client id.", show_default=False)],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="A PEM public key, a PEM certificate, or a JWK (JSON).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    kid: Annotated[str | None, typer.Option(help="The key id; the JWK's own, else its RFC 7638 thumbprint.")] = None,
    algorithm: Annotated[
        str | None, typer.Option(help="RS256, PS256, ES256, ...; the JWK's alg, else RS256 or the curve's.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a public key with which CLIENT signs its private_key_jwt assertions."""

    from gateway.audit import administration
    from gateway.identity.client_keys import MAX_KEY_MATERIAL, ClientKeyPublic, register_client_key

    material = file.read_bytes()
    if len(material) > MAX_KEY_MATERIAL:
        typer.echo(f"error: {file} is too large for a public key or certificate", err=True)
        raise typer.Exit(1)

    async def action(session: AsyncSession) -> tuple[ClientKeyPublic, AdminDescriptor]:
        key = await register_client_key(session, client_id, material, kid=kid, algorithm=algorithm)
        return ClientKeyPublic.model_validate(key), administration.key_registered(key)

    key = _run_recorded(action)
    if as_json:
        _echo_json(key)
    else:
        typer.echo(f"kid:       {key.kid}")
        typer.echo(f"algorithm: {key.algorithm}")
        typer.echo(f"not_after: {_moment(key.not_after)}")


@app.command("list")
def keys_list(
    client_id: Annotated[str, typer.Argument(help="The client id.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """List CLIENT's keys: kid, client, algorithm, status, certificate expiry, registration date."""

    from gateway.identity.client_keys import ClientKeyPublic, list_client_keys

    async def action(session: AsyncSession) -> list[ClientKeyPublic]:
        return [ClientKeyPublic.model_validate(key) for key in await list_client_keys(session, client_id)]

    keys = _run(action)
    if as_json:
        _echo_json(keys)
    else:
        for key in keys:
            typer.echo(_key_row(key))


@app.command("revoke")
def keys_revoke(
    kid: Annotated[str, typer.Argument(help="The key id.", show_default=False)],
    client_id: Annotated[str | None, typer.Option("--client", help="Only if the key is this client's.")] = None,
) -> None:
    """Revoke a client key: assertions signed with it are refused from now on."""

    from gateway.audit import administration
    from gateway.identity.client_keys import ClientKeyPublic, revoke_client_key
    from gateway.identity.models import ClientKey

    async def action(session: AsyncSession) -> tuple[ClientKeyPublic, AdminDescriptor]:
        found = await session.get(ClientKey, kid)
        already = found is not None and found.revoked_at is not None
        revoked = await revoke_client_key(session, kid, client_id=client_id)
        return ClientKeyPublic.model_validate(revoked), administration.key_revoked(revoked, already=already)

    key = _run_recorded(action)
    typer.echo(f"revoked {key.kid} of {key.client_id} at {_moment(key.revoked_at)}")


def _run_with_data_keys(
    action: Callable[[AsyncSession, DataKeys], Awaitable[tuple[T, AdminDescriptor]]],
) -> T:
    """:func:`_run_recorded` with the data keys; a data key or signing key that cannot be used is printed, exit 1."""
    from gateway.core.settings import get_settings
    from gateway.identity.datakeys import DataKeyError, DataKeys
    from gateway.identity.signing_keys import SigningKeyUnavailable

    try:
        data_keys = DataKeys.from_settings(get_settings())
        return _run_recorded(lambda session: action(session, data_keys))
    except (DataKeyError, SigningKeyUnavailable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("rotate")
def keys_rotate(as_json: JsonOption = False) -> None:
    """Rotate the gateway's signing key: a new key, stored in the database (its private part encrypted with the
    data key), signs from now on in every gateway process; the previous one stays in the JWKS until the tokens it
    signed have expired."""
    from gateway.audit import administration
    from gateway.core.settings import get_settings
    from gateway.identity.signing_keys import Rotation, rotate_signing_key

    settings = get_settings()

    async def rotate(session: AsyncSession, data_keys: DataKeys) -> tuple[Rotation, AdminDescriptor]:
        rotation = await rotate_signing_key(session, settings, data_keys)
        return rotation, administration.signing_key_rotated(rotation)

    rotation = _run_with_data_keys(rotate)
    if as_json:
        _echo_json(rotation)
    else:
        typer.echo(f"kid:        {rotation.kid}")
        typer.echo(f"retired:    {' '.join(rotation.retired) or '-'}")
        typer.echo(f"retired_at: {_moment(rotation.retired_at)}")


@app.command("import")
def keys_import(
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="The PEM private key to import; default GATEWAY_SIGNING_KEY_PATH.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import a signing key file (a deployment from before the keys lived in the database) and make it the active
    key, keeping its kid: tokens it signed stay valid. Its private part is stored encrypted with the data key;
    the other keys retire as in a rotation. Nothing changes when it is the active key already. The file may be
    deleted afterwards."""
    from gateway.audit import administration
    from gateway.core.settings import get_settings
    from gateway.identity.key_material import load_signing_key
    from gateway.identity.signing_keys import SigningKeyImport, import_signing_key

    settings = get_settings()
    source = path or settings.key_path
    try:
        key = load_signing_key(source, settings.signing_algorithm)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot import {source}: {exc}", err=True)
        raise typer.Exit(1) from None

    async def bring_in(session: AsyncSession, data_keys: DataKeys) -> tuple[SigningKeyImport, AdminDescriptor]:
        outcome = await import_signing_key(session, settings, data_keys, key)
        return outcome, administration.signing_key_imported(outcome)

    outcome = _run_with_data_keys(bring_in)
    if as_json:
        _echo_json(outcome)
        return
    typer.echo(f"kid:        {outcome.kid}")
    typer.echo(f"imported:   {'yes' if outcome.imported else 'no (it is the active key already)'}")
    typer.echo(f"retired:    {' '.join(outcome.retired) or '-'}")
    typer.echo(f"retired_at: {_moment(outcome.retired_at)}")


@app.command("signing")
def keys_signing(as_json: JsonOption = False) -> None:
    """List the gateway's signing keys: kid, algorithm, status, created, retired, published until."""
    from gateway.core.settings import get_settings
    from gateway.identity.signing_keys import describe_signing_keys

    settings = get_settings()
    keys = _run(lambda session: describe_signing_keys(session, settings))
    if as_json:
        _echo_json(keys)
        return
    for key in keys:
        status = "active" if key.active else ("retired" if key.retired_at is not None else "standby")
        typer.echo(
            "\t".join(
                (
                    key.kid,
                    key.algorithm,
                    status,
                    _moment(key.created_at),
                    _moment(key.retired_at),
                    _moment(key.published_until),
                )
            )
        )


@app.command("rotate-data-key")
def keys_rotate_data_key(
    drop_old: Annotated[
        bool, typer.Option("--drop-old", help="Once every secret is re-encrypted, remove the older keys from the file.")
    ] = False,
    reencrypt_only: Annotated[
        bool,
        typer.Option(
            "--reencrypt-only",
            help="Write no key: re-encrypt with the newest key already first in the key file (a file kept "
            "elsewhere and mounted read-only, such as a Kubernetes Secret).",
        ),
    ] = False,
) -> None:
    """Rotate the data key that encrypts stored webhook secrets and the signing keys' private parts: a new key is
    put first in GATEWAY_DATA_KEY_FILE (running processes reload it) and every stored secret and signing key is
    encrypted again with it. With GATEWAY_DATA_KEY set, or with --reencrypt-only, put the new key first yourself;
    this command then re-encrypts with it."""

    from gateway.audit import administration
    from gateway.core.settings import get_settings
    from gateway.exchange.webhooks import reencrypt_secrets
    from gateway.identity.datakeys import DataKeyError, DataKeys, new_key, write_key_file
    from gateway.identity.signing_keys import reencrypt_signing_keys

    if reencrypt_only and drop_old:
        typer.echo("error: --drop-old writes the key file, which --reencrypt-only leaves alone", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    if drop_old and settings.data_key is not None:
        # The keys are the setting's, not a file's: nothing this command could drop; say so before anything.
        typer.echo(
            "error: --drop-old removes the older keys from GATEWAY_DATA_KEY_FILE, but GATEWAY_DATA_KEY is set (it "
            "wins over the file): run the command without --drop-old to re-encrypt with its first key, then remove "
            "the older keys from GATEWAY_DATA_KEY yourself (your secret store) and restart the gateway's processes; "
            "nothing was changed",
            err=True,
        )
        raise typer.Exit(2)
    if reencrypt_only and settings.data_key is None and not settings.data_key_file_path.exists():
        typer.echo(f"error: no data key file at {settings.data_key_file_path}", err=True)
        raise typer.Exit(1)
    require_data_keys(settings)  # a key file that is not valid is not rotated (nor written)
    from_file = settings.data_key is None and not reencrypt_only
    unfinished = None
    if from_file:
        # The new key is in the file before anything is encrypted with it: whatever fails after, every process can
        # still decrypt everything, and a secret stored meanwhile with the new key is never lost.
        path = settings.data_key_file_path
        old = [line.strip() for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        write_key_file(path, [new_key(), *old])
        unfinished = (
            f"note: nothing in the database, that is; the key file {path} was written first, and holds the new data "
            "key first with the older keys (every stored secret still decrypts; processes that reloaded the file "
            "encrypt with the new key): once the database takes writes, run `gateway keys rotate-data-key "
            "--reencrypt-only` to re-encrypt what it holds"
        )
    data_keys = DataKeys.from_settings(settings)

    async def action(session: AsyncSession) -> tuple[tuple[int, int], AdminDescriptor]:
        secrets = await reencrypt_secrets(session, data_keys)
        signing_keys = await reencrypt_signing_keys(session, data_keys)
        done = administration.data_key_rotated(secrets=secrets, signing_keys=signing_keys, drop_old=drop_old)
        return (secrets, signing_keys), done

    try:
        changed, signing = _run_recorded(action, on_failure=unfinished)
    except DataKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        if unfinished is not None:
            typer.echo(unfinished, err=True)
        raise typer.Exit(1) from None
    if from_file and drop_old:
        path = settings.data_key_file_path
        write_key_file(path, path.read_text().splitlines()[:1])
    typer.echo(f"re-encrypted: {changed}")
    typer.echo(f"signing keys: {signing}")
    if settings.data_key is None:
        typer.echo(f"key file:     {settings.data_key_file_path}")
