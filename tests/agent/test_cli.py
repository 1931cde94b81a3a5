"""``fiscalmix-agent`` as a person runs it: pair through the gateway, then run, then list certificates.

The commands run as subprocesses of ``python -m fiscalmix_agent`` with only the agent's folder on
the path, as on a machine without the rest of FiscalMix.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fiscalmix_agent.cli import main
from fiscalmix_agent.client import Timing
from fiscalmix_agent.errors import PairingFailed
from fiscalmix_agent.pairing import CODE_ALPHABET, credential_hash, new_credential, new_pairing_code, pair
from local.sefaz import SefazSimulator
from tests.agent.bridge import WAIT_S, Bridge
from tests.agent.test_client import RemoteSignedInfo
from tests.softhsm import COMPANY_CNPJ, SOFTHSM_MODULE, USER_PIN, SoftToken

AGENT_DIR = Path(__file__).resolve().parents[2] / "agent"
CODE_LINE = re.compile(r"^ {4}([A-Z0-9]{4}) ([A-Z0-9]{4})$")


def agent_command(config: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "fiscalmix_agent", "--config", str(config), *arguments]


def agent_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(AGENT_DIR)}


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    cloud = Bridge()
    cloud.start()
    yield cloud
    cloud.stop()


def read_code(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        match = CODE_LINE.match(line.rstrip("\n"))
        if match:
            return match[1] + match[2]
    raise AssertionError(f"no pairing code shown; stderr: {process.stderr.read() if process.stderr else ''}")


def test_pair_then_run(bridge: Bridge, token: SoftToken, tmp_path: Path) -> None:
    config = tmp_path / "agent" / "config.json"
    pairing = subprocess.Popen(
        agent_command(
            config,
            "pair",
            "--server",
            bridge.url,
            "--module",
            SOFTHSM_MODULE,
            "--token-label",
            token.label,
            "--allow-host",
            "127.0.0.1",
        ),
        env=agent_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = read_code(pairing)
        pending = bridge.pairings.get(timeout=WAIT_S)
        assert pending["code"] == code and set(code) <= set(CODE_ALPHABET)
        with SefazSimulator() as sefaz:
            ca_pem = sefaz.ca_pem.decode()
        bridge.post(
            {
                "action": "paired",
                "id": "pair-1",
                "agent_id": "agent-42",
                "company": {"cnpj": COMPANY_CNPJ, "name": "EMPRESA A3 LTDA"},
                "sefaz_ca_pem": ca_pem,
            },
            pending["connection_id"],
        )
        assert bridge.answer("pair-1") == {
            "action": "response",
            "id": "pair-1",
            "ok": True,
            "agent_id": "agent-42",
        }
        out, err = pairing.communicate(timeout=WAIT_S)
    finally:
        pairing.kill()
    assert pairing.returncode == 0, err
    assert "Paired with EMPRESA A3 LTDA" in out

    saved = json.loads(config.read_text())
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert hashlib.sha256(saved["credential"].encode()).hexdigest() == pending["credential_hash"]
    assert saved["credential"] not in out + err  # shown nowhere
    assert Path(saved["sefaz_ca_file"]).read_text() == ca_pem
    assert saved["allowed_hosts"] == [".gov.br", "127.0.0.1"]

    bridge.credential_hashes.add(pending["credential_hash"])
    running = subprocess.Popen(
        agent_command(config, "run"),
        env=agent_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.stdin is not None
        running.stdin.write(USER_PIN + "\n")  # getpass reads stdin when there is no terminal
        running.stdin.flush()
        hello = bridge.hellos.get(timeout=WAIT_S)
        assert [c["cnpj"] for c in hello["certificates"]] == [COMPANY_CNPJ]
        answer = bridge.request("sign_xml", signed_info=RemoteSignedInfo.example())
        assert answer["ok"] and base64.b64decode(answer["signature_value"])
        running.send_signal(signal.SIGTERM)
        _, err = running.communicate(timeout=WAIT_S)
    finally:
        running.kill()
    assert running.returncode == 0, err
    assert USER_PIN not in err and saved["credential"] not in err
    assert bridge.disconnects.get(timeout=WAIT_S)["requestContext"]["disconnectStatusCode"] == 1000


def test_run_before_pairing_says_to_pair(tmp_path: Path) -> None:
    result = subprocess.run(
        agent_command(tmp_path / "none.json", "run"),
        env=agent_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "not paired yet" in result.stderr and "fiscalmix-agent pair" in result.stderr


def test_certificates_lists_the_token(
    token: SoftToken, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "--config",
            str(tmp_path / "none.json"),
            "certificates",
            "--module",
            SOFTHSM_MODULE,
            "--token-label",
            token.label,
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "Token fiscalmix (SoftHSM project SoftHSM v2" in out
    assert f"CNPJ:        {COMPANY_CNPJ}" in out and "EMPRESA A3 LTDA" in out


def test_a_code_nobody_enters_expires(bridge: Bridge, tmp_path: Path) -> None:
    saved: list[object] = []
    fast = Timing(heartbeat_s=0.2, backoff_base_s=0.05, ping_interval_s=None)
    with pytest.raises(PairingFailed, match="expired"):
        asyncio.run(
            pair(bridge.url, new_pairing_code(), new_credential(), saved.append, timing=fast, lifetime_s=0.7)
        )
    assert saved == []
    assert bridge.heartbeats.get(timeout=1)["pairing"] is True  # heartbeats while waiting


def test_codes_and_credentials() -> None:
    codes = {new_pairing_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(code) == 8 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not set(CODE_ALPHABET) & set("01OIL")
    credential = new_credential()
    assert credential.startswith("fmxa_") and len(credential) > 40
    assert credential_hash(credential) == hashlib.sha256(credential.encode()).hexdigest()
