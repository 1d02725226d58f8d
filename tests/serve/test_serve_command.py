"""`tiewise serve`: what it prints, its errors, and a real server process that logs no raw id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tiewise.serve


def test_serve_prints_the_address_and_a_generated_token(
    plain: Any, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tiewise.serve.ServeSettings] = []
    monkeypatch.setattr(tiewise.serve, "serve", started.append)
    monkeypatch.delenv("TIEWISE_SERVE_TOKEN", raising=False)
    config = str(plain.root / "tiewise.toml")
    local = cli("serve", "--config", config, "--port", "8811")
    assert local.code == 0, local.err
    assert "http://127.0.0.1:8811/" in local.out and "token" not in local.out
    assert started[-1].token is None and started[-1].key is not None

    wide = cli("serve", "--config", config, "--host", "0.0.0.0")
    assert wide.code == 0, wide.err
    token = started[-1].token
    assert token and f"every request needs this token: {token}" in wide.out.replace("\n", " ")


def test_serve_errors_are_clear(tmp_path: Path, cli) -> None:
    missing = cli("serve", "--workspace", str(tmp_path / "nowhere"))
    assert missing.code == 2
    assert "no workspace at" in missing.err and "Traceback" not in missing.err
    assert cli("serve", "--workspace", str(tmp_path), "--port", "70000").code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_server_answers_and_never_logs_a_raw_id(plain: Any) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TIEWISE_KEY", "TIEWISE_SERVE_TOKEN")}
    command = [str(Path(sys.executable).with_name("tiewise")), "serve", "--config",
               str(plain.root / "tiewise.toml"), "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
    )
    raw = str(pd.read_parquet(plain.data / "customers.parquet")["customer_id"].iloc[0])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/overview", timeout=5) as response:
                    assert response.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "the explorer did not start"
                time.sleep(0.2)
        body = urllib.parse.urlencode({"q": raw, "kind": "raw"}).encode()
        with urllib.request.urlopen(base + "/search", data=body, timeout=10) as response:
            assert response.status == 200 and "/customer/" in response.url
            assert raw not in response.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert f"http://127.0.0.1:{port}/" in output
    assert "POST /search" in output  # the access log is on ...
    assert raw not in output  # ... and the raw identifier is nowhere in it
