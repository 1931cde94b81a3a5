"""`make run` starts the whole system, answers through the HTTP gateway, and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_BUDGET_S = 30.0
_API_LINE = re.compile(r"HTTP API \S+\s+(http://127\.0\.0\.1:\d+)")
_TOKEN_LINE = re.compile(r"export TOKEN=(\S+)")

pytestmark = pytest.mark.slow


def _start() -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        ["make", "--no-print-directory", "run", "ARGS=--port 0 --ws-port 0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _read_until_ready(process: subprocess.Popen[str], deadline: float) -> tuple[str, str]:
    assert process.stdout is not None
    lines: list[str] = []
    api_url = token = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if match := _API_LINE.search(line):
            api_url = match[1]
        if match := _TOKEN_LINE.search(line):
            token = match[1]
        if "Press Ctrl-C to stop." in line and api_url and token:
            return api_url, token
    raise AssertionError("make run did not become ready in time:\n" + "".join(lines[-40:]))


def _group_processes(pgid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid:
                found.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_make_run_serves_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    started = time.monotonic()
    process = _start()
    pgid = os.getpgid(process.pid)
    try:
        api_url, token = _read_until_ready(process, started + STARTUP_BUDGET_S)
        with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        assert time.monotonic() - started < STARTUP_BUDGET_S

        request = urllib.request.Request(f"{api_url}/me", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["user"]["email"] == "demo@fiscalmix.local"

        listening = [
            conn.laddr
            for proc in _group_processes(pgid)
            for conn in proc.net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        ]
        assert listening, "the system should be listening on some ports"
        assert {address.ip for address in listening} == {"127.0.0.1"}, listening
    finally:
        os.killpg(pgid, stop_signal)
        output, _ = process.communicate(timeout=30)
    # make re-raises the signal it received once its recipe ends, as a shell job does; what
    # matters is that fiscalmix itself stopped everything and said so.
    assert process.returncode in (0, -stop_signal), output
    assert "Stopped." in output
    assert "Traceback" not in output
    time.sleep(0.2)
    assert _group_processes(pgid) == []
