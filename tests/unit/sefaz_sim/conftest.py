"""The engine on a frozen clock, a company and its supplier, and one NF-e between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local.fixtures.documents import Company, GeneratedDocument, proc_nfe, res_nfe
from local.fixtures.documents.xmlbuild import BRASILIA
from local.fixtures.identities import cnpj_for
from local.sefaz import DistQuery, DistResult, DistributionEngine, Policy, QueryKind, Service, SimClock

COMPANY = Company(cnpj_for("empresa simulador"), "EMPRESA SIMULADOR LTDA")
BRANCH = Company(cnpj_for("empresa simulador", branch=2), "EMPRESA SIMULADOR LTDA")
SUPPLIER = Company(cnpj_for("fornecedor simulador"), "FORNECEDOR SIMULADOR LTDA", uf="PR")
# Real time, to the second: certificates and documents of the test CA are valid around now.
START = datetime.now(UTC).replace(microsecond=0)
RELEASE_DELAY = timedelta(minutes=30)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def engine(clock: SimClock) -> DistributionEngine:
    return DistributionEngine(clock, policy=Policy(release_delay=RELEASE_DELAY))


@pytest.fixture(scope="session")
def note() -> GeneratedDocument:
    """An NF-e from the supplier to the company, issued two hours before START."""
    return proc_nfe(SUPPLIER, COMPANY, number=7, issued_at=(START - timedelta(hours=2)).astimezone(BRASILIA))


@pytest.fixture(scope="session")
def summary(note: GeneratedDocument) -> GeneratedDocument:
    return res_nfe(note)


def fill(
    engine: DistributionEngine, summary: GeneratedDocument, count: int, *, cnpj: str = COMPANY.cnpj
) -> None:
    """``count`` copies of one resNFe in the company's NF-e queue (the engine does not mind repeats)."""
    for _ in range(count):
        engine.publish(Service.NFE_DIST, cnpj, "resNFe_v1.01.xsd", summary.xml)


def dist(
    engine: DistributionEngine,
    ult_nsu: int,
    *,
    cnpj: str = COMPANY.cnpj,
    certificate: str | None = COMPANY.cnpj,
    service: Service = Service.NFE_DIST,
    tp_amb: str = "2",
) -> DistResult:
    """A distNSU from a client holding ``certificate``."""
    return engine.distribute(DistQuery(service, QueryKind.DIST_NSU, cnpj, tp_amb, certificate, nsu=ult_nsu))


def cons_nsu(engine: DistributionEngine, nsu: int, *, cnpj: str = COMPANY.cnpj) -> DistResult:
    return engine.distribute(DistQuery(Service.NFE_DIST, QueryKind.CONS_NSU, cnpj, "2", cnpj, nsu=nsu))


def cons_key(engine: DistributionEngine, key: str, *, cnpj: str = COMPANY.cnpj) -> DistResult:
    return engine.distribute(DistQuery(Service.NFE_DIST, QueryKind.CONS_CHAVE, cnpj, "2", cnpj, key=key))
