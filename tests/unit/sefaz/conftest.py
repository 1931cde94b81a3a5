"""Shared fixtures: the test CA, a recipient company with its e-CNPJ, and generated documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from fiscal_core.sefaz.transport import HttpResponse
from local.fixtures.certificates import (
    CertificateAuthority,
    IssuedCertificate,
    company_certificate,
    default_ca,
)
from local.fixtures.documents import Company, GeneratedDocument, proc_nfe
from local.fixtures.documents.parties import DEFAULT_RECIPIENT


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    """The process-wide test CA."""
    return default_ca()


@pytest.fixture(scope="session")
def recipient() -> Company:
    """The company that receives NF-e and asks SEFAZ for them."""
    return DEFAULT_RECIPIENT


@pytest.fixture(scope="session")
def recipient_certificate(recipient: Company) -> IssuedCertificate:
    """The recipient's e-CNPJ A1 from the test CA."""
    return company_certificate(recipient.cnpj, recipient.name)


@pytest.fixture(scope="session")
def nfe(recipient: Company) -> GeneratedDocument:
    """An authorised NF-e addressed to the recipient."""
    issuer = Company("11222333000181", "FORNECEDOR TESTE LTDA", uf="SP")
    return proc_nfe(issuer, recipient, number=4242)


@dataclass
class FakeTransport:
    """Answers from a queue (an exception is raised, a response returned) and records the calls."""

    answers: list[HttpResponse | Exception]
    calls: list[tuple[str, str, bytes, Mapping[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """Record the POST and return (or raise) the next answer."""
        return self._next("POST", url, body, headers)

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """Record the GET and return (or raise) the next answer."""
        return self._next("GET", url, b"", headers)

    def _next(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        self.calls.append((method, url, body, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
