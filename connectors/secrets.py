"""Telling secrets apart in configurations and in messages, so that none is shown where it should not be.

One rule for every place that decides: the conformance kit (a connector's secret-looking settings must be
``SecretStr``), ``gateway config check`` (secret-looking values are masked), and the health messages shown on the
gateway's unauthenticated ``/readyz`` (credentials and query values in URLs are masked).

>>> [name for name in ("api_key", "apiKey", "apikey", "passphrase", "client-secret", "token_url", "record_key")
...  if is_secret_name(name)]
['api_key', 'apiKey', 'apikey', 'passphrase', 'client-secret']
>>> mask_urls("503 for url 'https://user:pw@host/status?api_key=abc&page=2'", every_query_value=False)
"503 for url 'https://user:**********@host/status?api_key=**********&page=2'"
>>> mask_urls("503 for url 'https://host/citizens?id=001099012345'")
"503 for url 'https://host/citizens?id=**********'"
"""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_WORDS", "is_secret_name", "mask_urls"]

MASK = "**********"
"""What a masked secret is replaced with."""

SECRET_WORDS = frozenset(
    {
        "apikey",
        "credential",
        "credentials",
        "passcode",
        "passphrase",
        "passwd",
        "password",
        "pepper",
        "pwd",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
"""Last words of a name that make it a secret's (``client_secret``, ``bearer_token``, ``db_password``)."""

_SECRET_KEYS = frozenset(
    {
        "",
        "access",
        "api",
        "auth",
        "client",
        "data",
        "encryption",
        "master",
        "private",
        "secret",
        "shared",
        "signing",
        "ssl",
        "tls",
    }
)
"""Words before a last word ``key`` that make it a secret's (``api_key``, ``private_key``, a bare ``key``; not
``record_key`` nor ``sort_key``, which name fields)."""

_RUN_TOGETHER = ("apikey", "credential", "credentials", "passphrase", "passwd", "password", "secret", "token")
"""Secret words also recognised at the end of a run-together last word."""
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*):(?P<password>[^@/\s'\"]+)@", re.IGNORECASE)
_URL_QUERY = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^?#\s'\"]*\?)(?P<query>[^#\s'\"]*)", re.IGNORECASE)
_QUERY_PAIR = re.compile(r"(?P<name>[^&=]*)=(?P<value>[^&]*)")


def is_secret_name(name: str) -> bool:
    """Whether a setting, parameter or header called ``name`` holds a secret: its last word (in ``snake_case``,
    ``kebab-case`` or ``camelCase``) is one of :data:`SECRET_WORDS` or ends with a long one (``sslpassword``), or
    is ``key`` after a word that makes it one (``api_key``, ``private_key``, ``key`` alone)."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words:
        return False
    if words[-1] in SECRET_WORDS or words[-1].endswith(_RUN_TOGETHER):  # libpq's ``sslpassword``, ``authtoken``
        return True
    return words[-1] == "key" and (words[-2] if len(words) > 1 else "") in _SECRET_KEYS


def mask_urls(text: str, *, every_query_value: bool = True) -> str:
    """``text`` with the passwords of the URLs in it masked, and the values of their query parameters: every value
    (the default: a query may carry personal data, such as the number a record was looked up by), or only those
    whose names are secrets' (:func:`is_secret_name`)."""
    text = _URL_CREDENTIALS.sub(lambda match: f"{match['head']}:{MASK}@", text)

    def mask_pair(pair: re.Match[str]) -> str:
        secret = every_query_value or is_secret_name(pair["name"])
        return f"{pair['name']}={MASK}" if secret and pair["value"] else pair[0]

    return _URL_QUERY.sub(lambda match: match["head"] + _QUERY_PAIR.sub(mask_pair, match["query"]), text)
