"""A running simulator per test, and HTTPS clients holding test-CA certificates (http.client + ssl)."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from local.fixtures.certificates import IssuedCertificate, Variant, company_certificate, default_ca
from local.fixtures.documents import Company
from local.fixtures.identities import cnpj_for
from local.sefaz import Policy, SefazSimulator
from tests.unit.sefaz_sim import messages as m

COMPANY = Company(cnpj_for("empresa https"), "EMPRESA HTTPS LTDA")
RELEASE_DELAY = timedelta(minutes=30)


@dataclass(frozen=True)
class Reply:
    """What came back: HTTP status, content type and body."""

    status: int
    content_type: str
    body: bytes

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body)


class Client:
    """A tiny HTTPS client: trusts the simulator's CA, presents ``certificate`` (or none)."""

    def __init__(
        self, url: str, ca_pem: bytes, files: tuple[Path, Path] | None, *, timeout: float = 5.0
    ) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 443
        self.context = ssl.create_default_context(cadata=ca_pem.decode())
        if files is not None:
            self.context.load_cert_chain(*files)
        self.timeout = timeout

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        connection = http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=self.timeout
        )
        try:
            connection.request(method, path, body, headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.getheader("content-type", ""), response.read())
        finally:
            connection.close()

    def soap(self, path: str, body: bytes, action: str, *, version: str = "1.1") -> Reply:
        return self.send("POST", path, body, m.headers(action, version=version))

    def dist(self, message: str, *, version: str = "1.1") -> Reply:
        return self.soap(
            m.NFE_DIST_PATH, m.soap(message, version=version), m.NFE_DIST_ACTION, version=version
        )


def write_identity(issued: IssuedCertificate, folder: Path) -> tuple[Path, Path]:
    """The certificate chain and key as files, as ``SSLContext.load_cert_chain`` wants them."""
    folder.mkdir(parents=True, exist_ok=True)
    chain, key = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(issued.certificate_chain_pem())
    key.write_bytes(issued.private_key_pem())
    return chain, key


@pytest.fixture(scope="session")
def identities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Client certificate files: the company's valid e-CNPJ and its broken variants."""
    folder = tmp_path_factory.mktemp("identities")
    ca = default_ca()
    issued = {
        "valid": company_certificate(COMPANY.cnpj, COMPANY.name),
        "expired": ca.issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=Variant.EXPIRED),
        "self-signed": ca.issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=Variant.SELF_SIGNED),
        "other-cnpj": ca.issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=Variant.OTHER_CNPJ),
    }
    return {name: write_identity(certificate, folder / name) for name, certificate in issued.items()}


@pytest.fixture
def sefaz() -> Iterator[SefazSimulator]:
    with SefazSimulator(policy=Policy(release_delay=RELEASE_DELAY)) as simulator:
        yield simulator
        assert not simulator.errors, simulator.errors


@pytest.fixture
def client(sefaz: SefazSimulator, identities: dict[str, tuple[Path, Path]]) -> Client:
    return Client(sefaz.url, sefaz.ca_pem, identities["valid"])
