"""Pseudonymisation of identifiers with a keyed hash (HMAC-SHA256), computed inside DuckDB.

Phone numbers, emails and names are personal data.  At ingest every identifier column is replaced
by ``HMAC-SHA256(key, identifier)``, truncated to 80 bits and written as 20 hex characters.  The
same key gives the same pseudonym in every input and every run, so tables join; only the holder of
the key can compute the pseudonym of a known identifier (:func:`pseudonymise`) and so join results
back to their own systems.  The key never enters the database.

The key comes from the environment variable named in the configuration (hex), else from the key
file, which is created with 256 random bits on first use (mode 0600).

Examples
--------
>>> key = bytes(range(32))
>>> pseudonymise("4479000001", key)
'b06c7f060310438577fa'
>>> import duckdb
>>> con = duckdb.connect()
>>> con.execute(f"SELECT {hmac_sql('x', key)} FROM (SELECT '4479000001' AS x)").fetchall()
[('b06c7f060310438577fa',)]
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from tiewise.exceptions import ConfigError

__all__ = ["PSEUDONYM_HEX_CHARS", "hmac_sql", "load_key", "pseudonymise"]

PSEUDONYM_HEX_CHARS = 20
_BLOCK = 64  # SHA-256 block size in bytes


def load_key(key_file: Path, key_env: str) -> bytes:
    """Return the pseudonymisation key: from ``$key_env`` if set, else ``key_file`` (created)."""
    env = os.environ.get(key_env)
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            raise ConfigError(
                f"environment variable {key_env} must hold the key as hex digits "
                "(e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`)."
            ) from None
        if len(key) < 16:
            raise ConfigError(f"the key in {key_env} is too short: use at least 16 bytes (32 hex).")
        return key
    if key_file.exists():
        try:
            key = bytes.fromhex(key_file.read_text(encoding="ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(
                f"the key file {key_file} must hold the key as hex digits on one line; it "
                "holds something else. Restore the key file you used before (pseudonyms made "
                "with another key will not match)."
            ) from None
        if len(key) < 16:
            raise ConfigError(f"the key in {key_file} is too short: use at least 16 bytes.")
        return key
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    return key


def pseudonymise(identifier: str, key: bytes) -> str:
    """The pseudonym of one identifier, as tiewise stores it (for the key holder to join back)."""
    digest = hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


def _padded(key: bytes, pad: int) -> str:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ pad for b in key).hex()


def hmac_sql(expr: str, key: bytes) -> str:
    """A DuckDB SQL expression computing :func:`pseudonymise` of the VARCHAR expression ``expr``.

    The padded key halves are inlined as hex literals in the query text; queries are never logged.
    """
    inner = f"unhex('{_padded(key, 0x36)}') || encode(CAST({expr} AS VARCHAR))"
    outer = f"unhex('{_padded(key, 0x5C)}') || unhex(sha256({inner}))"
    return f"left(sha256({outer}), {PSEUDONYM_HEX_CHARS})"
