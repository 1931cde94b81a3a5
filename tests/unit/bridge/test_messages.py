"""Reading agents' messages and their secrets: bad input is a clear error, never an exception."""

from __future__ import annotations

import pytest

from fiscal_core.bridge.messages import BadMessage, Heartbeat, Hello, Response, note, read_message
from fiscal_core.bridge.secrets import bearer, is_credential, normalize_code, secret_hash
from fiscalmix_agent.pairing import credential_hash, new_credential, new_pairing_code

HELLO = (
    '{"action": "hello", "id": "5b0e", "protocol": 1, "agent_version": "0.1.0",'
    ' "machine": {"hostname": "CONTAB-01", "os": "Windows 10 AMD64"},'
    ' "token": {"ready": true, "label": "eToken"},'
    ' "certificates": [{"fingerprint_sha256": "'
    + "ab"
    * 32
    + '", "subject": "CN=EMPRESA", "issuer": "CN=AC",'
    ' "serial_number": "1f", "cnpj": "11222333000181", "not_before": "2026-01-10T12:00:00+00:00",'
    ' "not_after": "2029-01-09T12:00:00+00:00", "new_field": 1}]}'
)


def test_a_hello_is_read_with_its_certificates() -> None:
    hello = read_message(HELLO)
    assert isinstance(hello, Hello)
    assert hello.machine_text() == "CONTAB-01 (Windows 10 AMD64)"
    assert hello.certificates[0].cnpj == "11222333000181"


def test_heartbeats_and_responses_are_read() -> None:
    assert isinstance(read_message('{"action":"heartbeat","id":"h","pairing":true}'), Heartbeat)
    answer = read_message(
        '{"action":"response","id":"r1","ok":false,"error":{"code":"no_token","message":"m"}}'
    )
    assert isinstance(answer, Response) and answer.error is not None and answer.error.code == "no_token"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "bad_request"),
        ("not json", "bad_request"),
        ("[1, 2]", "bad_request"),
        ('{"action": "sign_xml", "id": "x"}', "unknown_action"),
        ('{"id": "x"}', "unknown_action"),
        ('{"action": "hello", "id": "x"}', "bad_request"),
        ('{"action": "response", "id": "bad id with spaces", "ok": true}', "bad_request"),
        ('{"action": "response", "id": "r", "ok": true, "status": 999}', "bad_request"),
        ('{"action": "hello", "id": "x", "protocol": 1, "agent_version": "1", "token": {"ready": true},'
         ' "certificates": [{"fingerprint_sha256": "zz"}]}', "bad_request"),
    ],
)  # fmt: skip
def test_unreadable_messages_are_bad_messages(body: str | None, code: str) -> None:
    with pytest.raises(BadMessage) as caught:
        read_message(body)
    assert caught.value.code == code and caught.value.message


def test_a_note_is_never_answered_back() -> None:
    sent = note("refused", "no request r1 was sent to this agent", "r1")
    assert "action" not in sent and "id" not in sent and sent["in_reply_to"] == "r1"


def test_secrets_are_hashed_as_the_agent_hashes_them() -> None:
    credential = new_credential()
    assert secret_hash(credential) == credential_hash(credential) != credential
    assert is_credential(credential) and not is_credential("fmxa_short") and not is_credential("x" * 48)
    code = new_pairing_code()
    assert normalize_code(f" {code[:4].lower()} - {code[4:]}") == code
    assert normalize_code("0OIL1234") is None and normalize_code("ABC") is None
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None and bearer(None) is None and bearer("Bearer ") is None
