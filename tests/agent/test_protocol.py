"""The message shapes (PROTOCOL.md), the quotas, and the SignedInfo the agent agrees to sign."""

from __future__ import annotations

import base64
import json
import random

import pytest

from fiscalmix_agent.client import Backoff, bridge_url
from fiscalmix_agent.errors import BadRequest, PayloadTooLarge, TokenRemoved
from fiscalmix_agent.protocol import (
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    Invalid,
    Paired,
    SefazRequest,
    SignXml,
    Unknown,
    encode,
    frames,
    parse,
    response_error,
)
from fiscalmix_agent.xmlsign import check_signed_info
from tests.agent.test_client import RemoteSignedInfo


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_requests_are_read() -> None:
    sign = parse(
        json.dumps({"action": "sign_xml", "id": "1", "signed_info": b64(b"<x/>"), "certificate": "ab"})
    )
    assert sign == SignXml("1", b"<x/>", "ab")
    sefaz = parse(
        json.dumps(
            {
                "action": "sefaz_request",
                "id": "2",
                "method": "post",
                "url": "https://www1.nfe.fazenda.gov.br/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx",
                "headers": {"Content-Type": "application/soap+xml; charset=utf-8"},
                "body": b64(b"<soap/>"),
                "upload_url": "https://bucket.s3.amazonaws.com/a?X-Amz-Signature=1",
                "timeout_s": 90,
            }
        )
    )
    assert isinstance(sefaz, SefazRequest)
    assert (sefaz.method, sefaz.body, sefaz.timeout_s) == ("POST", b"<soap/>", 90.0)
    paired = parse(json.dumps({"action": "paired", "id": "3", "agent_id": "a", "company": {"cnpj": "1"}}))
    assert paired == Paired("3", "a", {"cnpj": "1"})


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"action": "sign_xml", "signed_info": "***"}, "signed_info is not base64"),
        (
            {"action": "sefaz_request", "method": "DELETE", "url": "https://x.gov.br"},
            "method must be GET or POST",
        ),
        (
            {"action": "sefaz_request", "method": "GET", "url": "https://x.gov.br", "headers": {"Host": "y"}},
            "host",
        ),
        (
            {"action": "sefaz_request", "method": "GET", "url": "https://x.gov.br", "timeout_s": 600},
            "timeout_s",
        ),
        ({"action": "sefaz_request", "method": "POST", "url": "u", "body": "", "body_url": "u"}, "not both"),
    ],
)
def test_malformed_requests_are_answered_bad_request(fields: dict[str, object], why: str) -> None:
    parsed = parse(json.dumps({"id": "9", **fields}))
    assert isinstance(parsed, Invalid) and parsed.id == "9"
    assert why in parsed.error.message and parsed.error.code == "bad_request"


def test_what_is_not_a_request() -> None:
    assert parse("not json") == Unknown(None, None, {"text": "not json"})
    gateway_note = parse('{"message": "Forbidden", "connectionId": "x", "requestId": "y"}')
    assert isinstance(gateway_note, Unknown) and gateway_note.id is None
    assert parse('{"action": "reboot", "id": "7"}') == Unknown("7", "reboot", {"action": "reboot", "id": "7"})


def test_quotas() -> None:
    text = encode({"action": "response", "id": "1", "body": "A" * 100_000})
    parts = frames(text)
    assert len(parts) == 4 and all(len(part) <= MAX_FRAME_BYTES for part in parts) and "".join(parts) == text
    with pytest.raises(PayloadTooLarge):
        encode({"body": "A" * MAX_MESSAGE_BYTES})
    assert len(encode({"text": "ação"})) == len('{"text":"a\\u00e7\\u00e3o"}')  # ASCII: characters are bytes


def test_error_responses() -> None:
    assert response_error("5", TokenRemoved("plug it in")) == {
        "action": "response",
        "id": "5",
        "ok": False,
        "error": {"code": "token_removed", "message": "plug it in", "retryable": True},
    }


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_bridge_urls() -> None:
    assert bridge_url("https://agent.example/prod") == "wss://agent.example/prod"
    assert (
        bridge_url("ws://127.0.0.1:9/prod", {"pairing_code": "AB"}) == "ws://127.0.0.1:9/prod?pairing_code=AB"
    )


def test_the_signed_info_fiscal_core_builds_is_accepted() -> None:
    method, hash_name, uri = check_signed_info(base64.b64decode(RemoteSignedInfo.example()))
    assert (method.rpartition("#")[2], hash_name) == ("rsa-sha1", "sha1")
    assert uri.startswith("#ID210210")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("<SignedInfo ", '<!DOCTYPE x [<!ENTITY e "e">]><SignedInfo '), "no DOCTYPE"),
        (("xmldsig#rsa-sha1", "xmldsig#dsa-sha1"), "SignatureMethod"),
        (('REC-xml-c14n-20010315"></Canon', 'REC-xml-c14n11"></Canon'), "C14N 1.0"),
        (('URI="#ID', 'URI="https://elsewhere/#ID'), "same document"),
        (("</Reference>", '</Reference><Reference URI="#b"></Reference>'), "exactly one Reference"),
        (("<SignedInfo xmlns", "<Other xmlns"), "expected an XMLDSig SignedInfo"),
    ],
)
def test_only_sefaz_shaped_signed_info_is_signed(change: tuple[str, str], why: str) -> None:
    original = base64.b64decode(RemoteSignedInfo.example()).decode()
    altered = original.replace(*change, 1).replace(
        "</SignedInfo>", "</Other>" if "Other" in change[1] else "</SignedInfo>"
    )
    with pytest.raises(BadRequest, match=why):
        check_signed_info(altered.encode())
