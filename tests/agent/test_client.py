"""The agent against the local API Gateway WebSocket emulation, with its token on SoftHSM2 and the
SEFAZ simulator behind: credential, hello, heartbeats, recycling, reconnecting, and both requests.

The cloud's part is played by tests.agent.bridge; its signer and transport below are what the
cloud builds over the bridge: fiscal_core's own signing and SOAP clients, with the agent doing the
private-key work and the HTTPS exchange.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fiscal_core.sefaz import (
    Category,
    DistDFeClient,
    Manifestacao,
    ManifestacaoEvent,
    RecepcaoEventoClient,
    RetryPolicy,
    TpAmb,
    local_environment,
)
from fiscal_core.sefaz.distdfe import DistQuery
from fiscal_core.sefaz.errors import TransportError
from fiscal_core.sefaz.evento import build_env_evento
from fiscal_core.sefaz.transport import HttpResponse, Transport
from fiscalmix_agent.client import AgentClient, Timing
from fiscalmix_agent.errors import AuthenticationRefused
from fiscalmix_agent.pairing import new_credential
from fiscalmix_agent.service import RequestService, token_transports
from fiscalmix_agent.token import TokenSession
from fiscalmix_agent.trust import HostPolicy, ServerVerifier, load_bundle
from local.fixtures.certificates import default_ca
from local.fixtures.xmlsec import check_signatures
from local.fixtures.xsd import assert_valid
from local.sefaz import SefazSimulator, Story
from tests.agent.bridge import AgentThread, Bridge, wait_for
from tests.softhsm import COMPANY_CNPJ, SOFTHSM_MODULE, USER_PIN, SoftHsm, SoftToken

FAST = Timing(
    heartbeat_s=0.3,
    backoff_base_s=0.05,
    backoff_max_s=0.5,
    stable_after_s=0.5,
    open_timeout_s=5.0,
    ping_interval_s=None,
)


@pytest.fixture(scope="module")
def sefaz() -> Iterator[SefazSimulator]:
    with SefazSimulator() as simulator:
        yield simulator


@pytest.fixture
def credential() -> str:
    return new_credential()


@pytest.fixture
def bridge(credential: str) -> Iterator[Bridge]:
    cloud = Bridge(credential_hashes={hashlib.sha256(credential.encode()).hexdigest()})
    cloud.start()
    yield cloud
    cloud.stop()


def make_service(module: str, label: str, sefaz: SefazSimulator) -> RequestService:
    session = TokenSession(module, label=label)
    session.open(lambda _: USER_PIN)
    verifier = ServerVerifier(load_bundle(sefaz.ca_pem, "simulator"))
    return RequestService(session, token_transports(verifier, HostPolicy((".gov.br", "127.0.0.1"))))


@pytest.fixture
def service(token: SoftToken, sefaz: SefazSimulator) -> Iterator[RequestService]:
    made = make_service(SOFTHSM_MODULE, token.label, sefaz)
    yield made
    made.token.close()


def run_agent(bridge: Bridge, credential: str, service: RequestService, timing: Timing = FAST) -> AgentThread:
    agent = AgentThread(AgentClient(bridge.url, credential, service, timing=timing)).start()
    bridge.hellos.get(timeout=10)
    return agent


class RemoteSigner:
    """fiscal_core.signing.Signer over the bridge: the agent signs the SignedInfo on the token."""

    def __init__(self, bridge: Bridge, certificate: x509.Certificate) -> None:
        self._bridge, self.certificate = bridge, certificate

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        fingerprint = self.certificate.fingerprint(hashes.SHA256()).hex()
        answer = self._bridge.request(
            "sign_xml", signed_info=base64.b64encode(data).decode(), certificate=fingerprint
        )
        assert answer["ok"], answer
        return base64.b64decode(answer["signature_value"])


class AgentTransport:
    """fiscal_core's Transport over the bridge: the agent makes the HTTPS exchange."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self.largest_message = 0  # bytes of the largest response message seen

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        return self._relay("POST", url, headers, body=base64.b64encode(body).decode())

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        return self._relay("GET", url, headers)

    def _relay(self, method: str, url: str, headers: Mapping[str, str], **body: str) -> HttpResponse:
        answer = self._bridge.request("sefaz_request", method=method, url=url, headers=dict(headers), **body)
        self.largest_message = max(self.largest_message, len(json.dumps(answer)))
        if not answer["ok"]:
            raise TransportError(url, answer["error"]["message"])
        return HttpResponse(answer["status"], answer["headers"], base64.b64decode(answer["body"]))


def test_connects_with_its_credential_and_reports_the_certificate(
    bridge: Bridge, credential: str, service: RequestService, token: SoftToken
) -> None:
    agent = run_agent(bridge, credential, service)
    try:
        connect = bridge.connects.get(timeout=1)
        assert connect["headers"]["Authorization"] == f"Bearer {credential}"
        assert connect["headers"]["User-Agent"].startswith("fiscalmix-agent/")
        hello = service.hello()
        (certificate,) = hello["certificates"]
        assert certificate["cnpj"] == COMPANY_CNPJ
        assert certificate["fingerprint_sha256"] == token.certificate.fingerprint(hashes.SHA256()).hex()
        assert hello["token"]["ready"] and "CKM_SHA1_RSA_PKCS" in hello["token"]["mechanisms"]
        assert hello["protocol"] == 1 and hello["machine"]["hostname"]
    finally:
        agent.stop()


def test_a_refused_credential_ends_the_run(bridge: Bridge, service: RequestService) -> None:
    agent = AgentThread(AgentClient(bridge.url, new_credential(), service, timing=FAST)).start()
    agent.join()
    assert isinstance(agent.error, AuthenticationRefused)
    assert "pair" in agent.error.message
    assert bridge.hellos.empty()


def test_heartbeats_keep_it_past_the_idle_limit_and_it_recycles_before_the_time_limit(
    credential: str, service: RequestService
) -> None:
    cloud = Bridge(
        credential_hashes={hashlib.sha256(credential.encode()).hexdigest()},
        idle_timeout_s=1.0,
        max_connection_s=4.0,
    )
    cloud.start()
    timing = Timing(**{**FAST.__dict__, "recycle_after_s": 2.0})
    agent = run_agent(cloud, credential, service, timing)
    try:
        wait_for(lambda: cloud.heartbeats.qsize() >= 5, what="5 heartbeats")  # 1.5 s > the 1 s idle limit
        assert agent.client.connections == 1
        beat = cloud.heartbeats.get()
        assert beat["token_ready"] is True and beat["sent_at"]
        wait_for(lambda: agent.client.connections >= 2, what="a recycled connection")
        first = cloud.disconnects.get(timeout=5)
        # The agent closed it (1000), before the gateway's 4-second limit would have (1001).
        assert first["requestContext"]["disconnectStatusCode"] == 1000
        cloud.hellos.get(timeout=5)  # and said hello again on the new one
    finally:
        agent.stop()
        cloud.stop()


def test_reconnects_after_the_gateway_restarts(
    bridge: Bridge, credential: str, service: RequestService
) -> None:
    agent = run_agent(bridge, credential, service)
    try:
        bridge.stop()
        bridge.start()  # the same port, as after a deployment
        bridge.hellos.get(timeout=10)
        assert agent.client.connections == 2
        assert bridge.request("sign_xml", signed_info="bm90IFhNTA==")["error"]["code"] == "bad_request"
    finally:
        agent.stop()


def test_a_manifestacao_signed_and_sent_through_the_agent(
    bridge: Bridge, credential: str, service: RequestService, sefaz: SefazSimulator, token: SoftToken
) -> None:
    now = sefaz.clock.now()
    seeded = sefaz.seed(COMPANY_CNPJ, documents=12, since=now - timedelta(days=3), until=now)
    key = seeded.keys[Story.SUMMARY][0]
    agent = run_agent(bridge, credential, service)
    try:
        signer = RemoteSigner(bridge, token.certificate)
        lot = build_env_evento(
            [ManifestacaoEvent(key, Manifestacao.CIENCIA)],
            cnpj=COMPANY_CNPJ,
            tp_amb=TpAmb.HOMOLOGATION,
            signer=signer,
            id_lote=1,
            when=now,
        )
        assert_valid(lot.xml, "nfe_evento_mde/schemas/v1_0/envConfRecebto_v1.00.xsd")
        checks = check_signatures(lot.xml, default_ca().trusted)
        assert checks and all(check.ok for check in checks), [check.output for check in checks]

        environment = local_environment(sefaz.url)
        client = RecepcaoEventoClient(
            AgentTransport(bridge), environment, signer, clock=sefaz.clock.now, retry=RetryPolicy(attempts=1)
        )
        result = client.manifestar(COMPANY_CNPJ, [ManifestacaoEvent(key, Manifestacao.CIENCIA)])
        assert result.events[0].outcome.category is Category.REGISTERED  # the AN verified the signature
    finally:
        agent.stop()


def test_a_distdfe_page_through_the_agent(
    bridge: Bridge, credential: str, service: RequestService, sefaz: SefazSimulator
) -> None:
    branch = COMPANY_CNPJ[:8] + "000262"  # another establishment: its own hour rules, same certificate
    sefaz.seed(branch, documents=30)
    agent = run_agent(bridge, credential, service)
    try:
        transport = AgentTransport(bridge)
        page = DistDFeClient(transport, local_environment(sefaz.url)).dist_nsu(branch, 0)
        assert page.cstat == "138" and len(page.documents) >= 30  # the 30 and their events
        assert sefaz.handshake_failures == ()
        # Over API Gateway's 32 KB frame quota: the agent fragmented it, or the gateway had closed.
        assert transport.largest_message > 32 * 1024
    finally:
        agent.stop()


def test_every_request_gets_an_answer(bridge: Bridge, credential: str, service: RequestService) -> None:
    agent = run_agent(bridge, credential, service)
    try:
        unknown = bridge.request("format_disk")
        assert unknown["error"]["code"] == "unknown_action" and not unknown["ok"]
        missing = bridge.request("sefaz_request", method="POST")
        assert missing["error"] == {
            "code": "bad_request",
            "message": "url must be a string",
            "retryable": False,
        }
        elsewhere = bridge.request("sefaz_request", method="GET", url="https://bank.example/login")
        assert elsewhere["error"]["code"] == "host_not_allowed"
        query = DistQuery.dist_nsu(0)
        unused = cast("Transport", None)  # prepare only
        request = DistDFeClient(unused, local_environment("https://127.0.0.1:1")).prepare(COMPANY_CNPJ, query)
        down = bridge.request(
            "sefaz_request", method="POST", url=request.url, body=base64.b64encode(request.body).decode()
        )
        assert down["error"]["code"] == "connection_failed" and down["error"]["retryable"]
    finally:
        agent.stop()


def test_token_pulled_out_while_the_agent_runs(
    bridge: Bridge, credential: str, softhsm: SoftHsm, sefaz: SefazSimulator
) -> None:
    pulled = softhsm.create_token("pulled", cnpj=COMPANY_CNPJ)
    service = make_service(softhsm.module_copy(), "pulled", sefaz)
    agent = run_agent(bridge, credential, service)
    signed_info = RemoteSignedInfo.example()
    try:
        assert bridge.request("sign_xml", signed_info=signed_info)["ok"]
        outside = softhsm.root / "pulled-away"
        shutil.move(pulled.directory, outside)
        wait_for(
            lambda: bridge.heartbeats.get(timeout=5)["token_ready"] is False, what="a not-ready heartbeat"
        )
        removed = bridge.request("sign_xml", signed_info=signed_info)
        assert removed["error"]["code"] == "token_removed" and removed["error"]["retryable"]
        assert "Plug it back in" in removed["error"]["message"]
        shutil.move(outside, pulled.directory)
        wait_for(lambda: bridge.heartbeats.get(timeout=5)["token_ready"] is True, what="a ready heartbeat")
        assert bridge.request("sign_xml", signed_info=signed_info)["ok"]
    finally:
        agent.stop()
        service.token.close()


class RemoteSignedInfo:
    """A canonical SignedInfo as fiscal_core builds it for an event."""

    @staticmethod
    def example() -> str:
        digest = base64.b64encode(hashlib.sha1(b"evento").digest()).decode()
        text = (
            '<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#">'
            '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315">'
            "</CanonicalizationMethod>"
            '<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"></SignatureMethod>'
            '<Reference URI="#ID2102103526111122233300018155001000000001197145270201"><Transforms>'
            '<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></Transform>'
            '<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></Transform>'
            '</Transforms><DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"></DigestMethod>'
            f"<DigestValue>{digest}</DigestValue></Reference></SignedInfo>"
        )
        return base64.b64encode(text.encode()).decode()
