"""Seeded companies: deterministic, realistic, arriving over time, every document schema-valid."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from fiscal_core.doczip import decode_doczip
from local.fixtures.documents import DocumentKind
from local.fixtures.xsd import assert_valid
from local.sefaz import Code, DistributionEngine, SeededCompany, Service, SimClock, Story, seed_company

from .conftest import COMPANY, START, cons_key, dist

XSD_BY_SCHEMA = {kind.doczip_schema: kind.xsd for kind in DocumentKind}
SINCE, UNTIL = START - timedelta(days=20), START - timedelta(hours=1)


def seed(
    engine: DistributionEngine, documents: int, *, seed: int = 0, nfse_documents: int = 0, issued: int = 0
) -> SeededCompany:
    """``documents`` stories for the company, started over the 20 days before START."""
    return seed_company(
        engine,
        COMPANY.cnpj,
        documents=documents,
        nfse_documents=nfse_documents,
        issued=issued,
        name=COMPANY.name,
        since=SINCE,
        until=UNTIL,
        seed=seed,
    )


@pytest.fixture(scope="module")
def seeded() -> tuple[DistributionEngine, SeededCompany]:
    engine = DistributionEngine(SimClock(START))
    return engine, seed(engine, 80, nfse_documents=6, issued=2)


def test_the_same_seed_gives_the_same_stories_and_keys():
    runs = [seed(DistributionEngine(SimClock(START)), 25) for _ in range(2)]
    other = seed(DistributionEngine(SimClock(START)), 25, seed=1)

    assert runs[0].keys == runs[1].keys
    assert runs[0].queued == runs[1].queued
    assert runs[0].keys != other.keys


def test_a_seeded_company_gets_every_kind_of_story(seeded):
    engine, company = seeded

    assert set(company.keys) == set(Story)
    assert len(company.nfse) == 6
    log = engine.log(Service.NFE_DIST, COMPANY.cnpj)
    assert company.total(Service.NFE_DIST) == log.max_nsu + log.pending  # events may follow the window
    assert company.total(Service.CTE_DIST) == len(company.keys[Story.CTE])


def test_every_seeded_document_satisfies_its_official_schema(seeded):
    engine, _ = seeded
    seen: Counter[str] = Counter()
    for service in (Service.NFE_DIST, Service.CTE_DIST, Service.ADN_DIST):
        for item in engine.log(service, COMPANY.cnpj).items():
            assert decode_doczip(item.doczip) == item.xml
            assert_valid(item.xml, XSD_BY_SCHEMA[item.schema])
            seen[item.schema] += 1

    assert set(seen) == {
        "resNFe_v1.01.xsd",
        "procNFe_v4.00.xsd",
        "resEvento_v1.01.xsd",
        "procEventoNFe_v1.00.xsd",
        "procCTe_v4.00.xsd",
        "NFSe_v1.01.xsd",
    }


def test_a_manifested_story_reads_summary_then_own_ciencia_then_full_note(seeded):
    engine, company = seeded
    key = company.keys[Story.MANIFESTED][0]

    items = engine.log(Service.NFE_DIST, COMPANY.cnpj).for_key(key)

    assert [item.schema for item in items] == [
        "resNFe_v1.01.xsd",
        "procEventoNFe_v1.00.xsd",
        "procNFe_v4.00.xsd",
    ]
    assert cons_key(engine, key).items[0].schema == "procNFe_v4.00.xsd"


def test_the_companys_own_notes_are_known_but_never_distributed(seeded):
    engine, company = seeded

    assert cons_key(engine, company.issued[0]).code is Code.OWN_NOTE
    assert not engine.log(Service.NFE_DIST, COMPANY.cnpj).for_key(company.issued[0])


def test_documents_keep_arriving_over_the_window():
    clock = SimClock(START)
    engine = DistributionEngine(clock)
    company = seed_company(
        engine, COMPANY.cnpj, documents=30, since=START - timedelta(days=1), until=START + timedelta(days=1)
    )
    arrived_now = dist(engine, 0).max_nsu

    clock.advance(timedelta(days=5))

    assert 0 < arrived_now < company.total(Service.NFE_DIST)
    assert engine.log(Service.NFE_DIST, COMPANY.cnpj).max_nsu == company.total(Service.NFE_DIST)


def test_the_window_must_not_end_before_it_starts():
    with pytest.raises(ValueError, match="ends"):
        seed_company(
            DistributionEngine(SimClock(START)), COMPANY.cnpj, since=START, until=START - timedelta(days=1)
        )


@pytest.mark.slow
def test_a_thousand_stories_queue_more_than_a_thousand_documents():
    # How long seeding takes is make run's start-up, measured by tests/e2e/test_make_run.py.
    company = seed(DistributionEngine(SimClock(START)), 1000)

    assert sum(company.queued.values()) > 1000
