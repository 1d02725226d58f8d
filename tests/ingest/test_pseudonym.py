import hashlib
import hmac
import os
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tiewise.exceptions import ConfigError
from tiewise.ingest.pseudonym import hmac_sql, load_key, pseudonymise

IDS = ["4479000001", "alice@example.com", "Zoë Ærø", "+45 20 30 40 50", "x" * 300, "0"]


@pytest.mark.parametrize(
    "key",
    [bytes(range(32)), b"k" * 16, np.random.default_rng(7).bytes(100)],
    ids=["32-bytes", "16-bytes", "100-random-bytes"],
)
def test_sql_matches_the_reference_hmac(key: bytes) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t(x VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[i] for i in IDS])
    got = dict(con.execute(f"SELECT x, {hmac_sql('x', key)} FROM t").fetchall())
    for raw in IDS:
        reference = hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:20]
        assert got[raw] == reference == pseudonymise(raw, key)


def test_key_is_created_once_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIEWISE_TEST_KEY", raising=False)
    path = tmp_path / "keys" / "tiewise.key"
    first = load_key(path, "TIEWISE_TEST_KEY")
    assert len(first) == 32 and (path.stat().st_mode & 0o777) == 0o600
    assert load_key(path, "TIEWISE_TEST_KEY") == first


def test_key_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEWISE_TEST_KEY", "ab" * 32)
    assert load_key(tmp_path / "unused.key", "TIEWISE_TEST_KEY") == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "unused.key").exists()
    monkeypatch.setenv("TIEWISE_TEST_KEY", "not hex")
    with pytest.raises(ConfigError, match="hex"):
        load_key(tmp_path / "unused.key", "TIEWISE_TEST_KEY")
    monkeypatch.setenv("TIEWISE_TEST_KEY", "abcd")
    with pytest.raises(ConfigError, match="too short"):
        load_key(tmp_path / "unused.key", "TIEWISE_TEST_KEY")


def test_a_damaged_key_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIEWISE_TEST_KEY", raising=False)
    path = tmp_path / "tiewise.key"
    path.write_bytes(os.urandom(32))  # raw bytes instead of hex
    with pytest.raises(ConfigError, match="must hold the key as hex digits"):
        load_key(path, "TIEWISE_TEST_KEY")
