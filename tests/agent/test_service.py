"""Bodies beyond the WebSocket quotas: ``body_url`` downloads, ``upload_url`` uploads (a local
stand-in for S3 presigned URLs), and the refusal when an answer fits nowhere."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fiscalmix_agent.protocol import MAX_MESSAGE_BYTES, SefazRequest, encode
from fiscalmix_agent.service import RequestService
from fiscalmix_agent.signer import TokenSigner
from fiscalmix_agent.tls import HttpResponse
from fiscalmix_agent.token import TokenSession
from tests.softhsm import SOFTHSM_MODULE, USER_PIN, SoftToken

BIG = bytes(range(256)) * 1024  # 256 KB: twice the message quota before base64


class ObjectStore(ThreadingHTTPServer):
    """GET and PUT of whole objects by path, like S3 behind presigned URLs."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        super().__init__(("127.0.0.1", 0), _StoreHandler)

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{key}?X-Amz-Signature=test"


class _StoreHandler(BaseHTTPRequestHandler):
    server: ObjectStore

    def do_GET(self) -> None:
        body = self.server.objects.get(self.path.split("?")[0])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def do_PUT(self) -> None:
        self.server.objects[self.path.split("?")[0]] = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class EchoTransport:
    """Answers every request with ``BIG``, remembering the body it was sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes | None] = []

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read_timeout: float | None = None,
    ) -> HttpResponse:
        self.bodies.append(body)
        return HttpResponse(200, {"content-type": "application/soap+xml"}, BIG)


@pytest.fixture
def store() -> Iterator[ObjectStore]:
    server = ObjectStore()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo(token: SoftToken) -> Iterator[tuple[RequestService, EchoTransport]]:
    session = TokenSession(SOFTHSM_MODULE, label=token.label)
    session.open(lambda _: USER_PIN)
    transport = EchoTransport()

    def transports(signer: TokenSigner) -> EchoTransport:
        return transport

    yield RequestService(session, transports), transport
    session.close()


def request(**fields: object) -> SefazRequest:
    defaults: dict[str, object] = {
        "id": "r1",
        "method": "POST",
        "url": "https://www1.nfe.fazenda.gov.br/x",
        "headers": {},
    }
    return SefazRequest(**{**defaults, **fields})  # type: ignore[arg-type]


def test_an_answer_too_big_for_a_message_is_uploaded(
    echo: tuple[RequestService, EchoTransport], store: ObjectStore
) -> None:
    service, _ = echo
    answer = service.handle(request(upload_url=store.url("answers/r1")))
    assert answer["ok"] and answer["body_uploaded"] and "body" not in answer
    assert store.objects["/answers/r1"] == BIG
    assert (answer["body_size"], answer["body_sha256"]) == (len(BIG), hashlib.sha256(BIG).hexdigest())
    assert len(encode(answer)) < MAX_MESSAGE_BYTES


def test_without_an_upload_url_it_says_so(echo: tuple[RequestService, EchoTransport]) -> None:
    service, _ = echo
    answer = service.handle(request())
    assert answer["error"]["code"] == "payload_too_large" and "upload_url" in answer["error"]["message"]


def test_a_request_body_is_fetched_from_body_url(
    echo: tuple[RequestService, EchoTransport], store: ObjectStore
) -> None:
    service, transport = echo
    store.objects["/requests/r1"] = b"<soap:Envelope/>" * 10_000
    service.handle(request(body_url=store.url("requests/r1"), upload_url=store.url("answers/r1")))
    assert transport.bodies == [store.objects["/requests/r1"]]
    missing = service.handle(request(body_url=store.url("requests/none")))
    assert missing["error"]["code"] == "transfer_failed" and "HTTP 404" in missing["error"]["message"]


def test_presigned_urls_must_be_https_except_on_loopback(echo: tuple[RequestService, EchoTransport]) -> None:
    service, transport = echo
    answer = service.handle(request(upload_url="http://bucket.example/answer"))
    assert answer["error"]["code"] == "bad_request"
    assert transport.bodies == []  # refused before the exchange, which may have effects at SEFAZ
    assert json.loads(encode(answer))["id"] == "r1"
