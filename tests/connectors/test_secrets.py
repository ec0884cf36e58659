"""``connectors.secrets``: the one rule telling a secret's name (the conformance kit's, ``gateway config check``'s),
and its doctests, run as written."""

from __future__ import annotations

import doctest

import pytest

import connectors.secrets
from connectors.secrets import is_secret_name


def test_the_doctests_run_as_written() -> None:
    result = doctest.testmod(connectors.secrets, optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted >= 3
    assert result.failed == 0


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_password",
        "passwd",
        "passphrase",
        "key_passphrase",
        "secret",
        "client_secret",
        "client-secret",
        "clientSecret",
        "token",
        "bearer_token",
        "accessToken",
        "api_key",
        "apiKey",
        "apikey",
        "API_KEY",
        "X-Api-Key",
        "access_key",
        "secret_key",
        "private_key",
        "key",
        "credentials",
        "credential",
        "signing_key",
    ],
)
def test_a_secret_is_told_by_its_name(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["record_key", "sort_key", "token_url", "token_path", "base_url", "timeout_seconds", "username", "keys", "", "_"],
)
def test_other_names_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)
