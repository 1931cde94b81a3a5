"""HttpsTransport against a local mutual-TLS server: identity, trust, key hygiene, timeouts, retries."""

from __future__ import annotations

import builtins
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fiscal_core.certificates import load_pfx
from fiscal_core.sefaz import tls
from fiscal_core.sefaz.errors import ConnectionFailed, Timeout, TlsFailure, TransportError
from fiscal_core.sefaz.retry import RetryPolicy, with_retries
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings, TlsSetupError, client_context
from fiscal_core.sefaz.transport import HttpsTransport, Timeouts
from local.fixtures.certificates import CertificateAuthority, IssuedCertificate, build_ca
from tests.unit.sefaz.tls_server import RunningServer, silent_server, tls_server


@pytest.fixture(scope="module")
def server(ca: CertificateAuthority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with a certificate from the test CA that trusts client certificates from it."""
    with tls_server(ca, tmp_path_factory.mktemp("server"), trusted_clients=ca) as running:
        yield running


@pytest.fixture(scope="module")
def identity(recipient_certificate: IssuedCertificate) -> ClientIdentity:
    """The recipient's e-CNPJ as a TLS client identity."""
    return ClientIdentity(
        recipient_certificate.private_key, recipient_certificate.certificate, recipient_certificate.chain
    )


def _transport(identity: ClientIdentity, ca: CertificateAuthority, **timeouts: float) -> HttpsTransport:
    return HttpsTransport(identity, TlsSettings(ca_pem=ca.trust_pem().decode()), Timeouts(**timeouts))


def test_mutual_tls_presents_the_company_certificate(
    server: RunningServer,
    identity: ClientIdentity,
    ca: CertificateAuthority,
    recipient_certificate: IssuedCertificate,
) -> None:
    transport = _transport(identity, ca)
    response = transport.post(f"{server.url}/echo", b"<ping/>", {"Content-Type": "text/xml"})
    assert (response.status, response.body, response.header("X-ECHO-METHOD")) == (200, b"<ping/>", "POST")
    assert f":{recipient_certificate.cnpj}" in server.seen.subjects[-1]  # CN = NAME:CNPJ
    assert transport.get(f"{server.url}/x?a=1", {}).header("x-echo-method") == "GET"
    assert server.seen.paths[-1] == "/x?a=1"


def test_the_key_reaches_openssl_without_touching_disk(
    identity: ClientIdentity, ca: CertificateAuthority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    plaintext = identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = identity.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    written: list[bytes] = []
    real_write = os.write

    def spy_write(fd: int, data: bytes) -> int:
        written.append(bytes(data))
        return real_write(fd, data)

    def forbidden(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a file was opened while loading the key: {args}")

    monkeypatch.setattr(os, "write", spy_write)
    for module, name in [
        (builtins, "open"),
        (os, "open"),
        (tempfile, "mkstemp"),
        (tempfile, "NamedTemporaryFile"),
        (tempfile, "TemporaryFile"),
        (tempfile, "mkdtemp"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    before = set(os.listdir("/proc/self/fd"))

    context = client_context(identity, TlsSettings(ca_pem=ca.trust_pem().decode()), legacy_ciphers=False)

    monkeypatch.undo()
    assert isinstance(context, ssl.SSLContext)
    assert list(scratch.iterdir()) == []
    assert set(os.listdir("/proc/self/fd")) <= before  # the memory file is closed
    blob = b"".join(written)
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in blob  # even the memory file holds ciphertext only
    assert plaintext not in blob and der not in blob


def test_an_a1_loaded_from_its_pfx_becomes_the_identity(
    recipient_certificate: IssuedCertificate, ca: CertificateAuthority
) -> None:
    a1 = load_pfx(recipient_certificate.to_pfx("senha"), "senha")
    identity = ClientIdentity.from_a1(a1)
    assert identity.certificate == recipient_certificate.certificate
    assert len(identity.chain) == 2
    client_context(identity, TlsSettings(ca_pem=ca.trust_pem().decode()), legacy_ciphers=False)


def test_without_memfd_there_is_no_fallback_to_a_file(
    identity: ClientIdentity, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "memfd_create")
    with pytest.raises(TlsSetupError, match="memfd_create"):
        client_context(identity, TlsSettings(ca_pem=ca.trust_pem().decode()), legacy_ciphers=False)


def test_contexts_demand_tls12_and_verify_the_server(
    identity: ClientIdentity, ca: CertificateAuthority
) -> None:
    context = client_context(identity, TlsSettings(ca_pem=ca.trust_pem().decode()), legacy_ciphers=False)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    with pytest.raises(ValueError, match="CA bundle"):
        TlsSettings()


def test_legacy_ciphers_apply_only_to_listed_hosts(
    identity: ClientIdentity, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = ssl.SSLContext.set_ciphers

    def spy(self: ssl.SSLContext, spec: str) -> None:
        calls.append(spec)
        real(self, spec)

    monkeypatch.setattr(ssl.SSLContext, "set_ciphers", spy)
    settings = TlsSettings(ca_pem=ca.trust_pem().decode(), legacy_hosts=frozenset({"nfe.sefaz.go.gov.br"}))
    transport = HttpsTransport(identity, settings)
    transport._context("www1.nfe.fazenda.gov.br")
    assert calls == []
    legacy = transport._context("nfe.sefaz.go.gov.br")
    assert calls == [tls.LEGACY_CIPHERS]
    assert transport._context("nfe.sefaz.go.gov.br") is legacy  # built once


def test_an_untrusted_server_is_refused(server: RunningServer, identity: ClientIdentity) -> None:
    stranger = build_ca("stranger")
    with pytest.raises(TlsFailure, match="not trusted") as raised:
        _transport(identity, stranger).get(f"{server.url}/", {})
    assert not raised.value.retryable


def test_a_certificate_refused_in_a_tls12_handshake_is_a_tls_failure(
    ca: CertificateAuthority, identity: ClientIdentity, tmp_path: Path
) -> None:
    picky = tls_server(
        ca, tmp_path, trusted_clients=build_ca("another"), maximum_version=ssl.TLSVersion.TLSv1_2
    )
    with picky as running, pytest.raises(TlsFailure, match="refused the company's certificate") as raised:
        _transport(identity, ca).get(f"{running.url}/", {})
    assert not raised.value.retryable


def test_a_certificate_refused_after_a_tls13_handshake_reads_as_a_cut_connection(
    ca: CertificateAuthority, identity: ClientIdentity, tmp_path: Path
) -> None:
    """TLS 1.3 reports the refusal after the handshake; the client may only see the connection close."""
    picky = tls_server(ca, tmp_path, trusted_clients=build_ca("another"))
    with picky as running, pytest.raises((ConnectionFailed, TlsFailure), match="certificate"):
        _transport(identity, ca).get(f"{running.url}/", {})


def test_a_slow_answer_is_a_read_timeout(
    server: RunningServer, identity: ClientIdentity, ca: CertificateAuthority
) -> None:
    with pytest.raises(Timeout) as raised:
        _transport(identity, ca, read=0.3).get(f"{server.url}/slow", {})
    assert raised.value.retryable


def test_the_handshake_runs_under_the_connect_timeout(
    identity: ClientIdentity, ca: CertificateAuthority
) -> None:
    with silent_server() as url, pytest.raises(Timeout):
        _transport(identity, ca, connect=0.3, read=30).get(f"{url}/", {})


def test_a_closed_port_is_a_connection_failure(identity: ClientIdentity, ca: CertificateAuthority) -> None:
    import socket

    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionFailed) as raised:
        _transport(identity, ca).get(f"https://127.0.0.1:{port}/", {})
    assert raised.value.retryable


def test_only_https_is_spoken(identity: ClientIdentity, ca: CertificateAuthority) -> None:
    with pytest.raises(TransportError, match="only https"):
        _transport(identity, ca).get("http://127.0.0.1/", {})


def test_statuses_are_returned_and_5xx_retried_by_the_loop(
    server: RunningServer, identity: ClientIdentity, ca: CertificateAuthority
) -> None:
    from fiscal_core.sefaz.errors import HttpStatusError

    transport = _transport(identity, ca)
    assert transport.get(f"{server.url}/status/404", {}).status == 404

    def call() -> int:
        response = transport.get(f"{server.url}/flaky/2", {})
        if response.status >= 500:
            raise HttpStatusError(server.url, response.status, "busy")
        return response.status

    waits: list[float] = []
    assert with_retries(call, RetryPolicy(attempts=3), sleep=waits.append) == 200
    assert len(waits) == 2
    assert server.seen.paths.count("/flaky/2") == 3
