"""NFS-e through the ADN with the same discipline, and the source adapters over raw answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fiscal_core.doczip import encode_doczip
from fiscal_core.sefaz.clients import AdnClient, DistDFeClient
from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.distdfe import DistFamily
from fiscal_core.sefaz.environments import HOMOLOGATION
from fiscal_core.sefaz.retry import RetryPolicy
from fiscal_core.storage.records import Direction, DocKind, DocType, Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.answer import Answer, DocZip
from fiscal_core.sync.sources import AdnSource, DistDFeSource
from local.fixtures.documents import nfse, proc_nfe
from tests.unit.sefaz.answers import Doc, adn_answer, adn_item, dist_answer, ret_dist_dfe
from tests.unit.sefaz.conftest import FakeTransport
from tests.unit.sync.fakes import nsu
from tests.unit.sync.harness import ACCOUNT, COMPANY, COMPANY_ID, SUPPLIER, Harness

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _service_note(number: int, *, provided: bool) -> bytes:
    provider, taker = (COMPANY, SUPPLIER) if provided else (SUPPLIER, COMPANY)
    issued = datetime(2026, 3, 9, 10, tzinfo=UTC) + timedelta(minutes=number)
    return nfse(provider, taker, number=number, issued_at=issued, total=Decimal("800.00")).xml


def test_nfse_are_stored_with_their_direction_then_an_empty_queue_waits_an_hour(harness: Harness) -> None:
    harness.company()
    harness.nfse.publish("NFSE", _service_note(1, provided=False))
    harness.nfse.publish("NFSE", _service_note(2, provided=True))

    first = harness.run(Family.NFSE)

    documents = sorted(harness.stored_documents(), key=lambda d: d.number or 0)
    assert [d.doc_type for d in documents] == [DocType.NFSE, DocType.NFSE]
    assert [d.direction for d in documents] == [Direction.IN, Direction.OUT]
    assert all(d.family is Family.NFSE and d.kind is DocKind.FULL for d in documents)
    assert first.last.counters.docs_saved == 2
    # The ADN has no maxNSU: the run reads until it answers "nothing found", then waits an hour.
    assert harness.nfse.calls == [nsu(0), nsu(2)]
    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFSE)
    assert cursor.last_nsu == nsu(2)
    assert cursor.next_allowed_at >= harness.clock.now + timedelta(hours=1)
    assert harness.run_records()[0].status == RunStatus.SUCCEEDED
    assert harness.manifestor.lots == []  # no manifestação for NFS-e
    harness.assert_consistent()


def test_distdfe_source_reads_a_raw_page_and_keeps_the_ultnsu_returned() -> None:
    page = ret_dist_dfe(
        "138", "Documento(s) localizado(s)", ult_nsu=nsu(2), max_nsu=nsu(9),
        docs=[Doc(nsu(1), "resNFe_v1.01.xsd", b"<a/>"), Doc(nsu(2), "resEvento_v1.01.xsd", b"<b/>")],
    )  # fmt: skip
    transport = FakeTransport([dist_answer(page)])
    client = DistDFeClient(transport, HOMOLOGATION, family=DistFamily.NFE)
    source = DistDFeSource(client, client, lambda: NOW)

    answer = source.after(COMPANY.cnpj, nsu(0))

    assert answer.outcome.category is Category.SUCCESS
    assert (answer.requested_nsu, answer.ult_nsu, answer.max_nsu) == (nsu(0), nsu(2), nsu(9))
    assert answer.nsu_range == (0, 2)
    assert not answer.caught_up
    assert [d.nsu for d in answer.documents] == [nsu(1), nsu(2)]


def test_a_page_reaching_maxnsu_is_caught_up() -> None:
    page = ret_dist_dfe(
        "138", "ok", ult_nsu=nsu(2), max_nsu=nsu(2), docs=[Doc(nsu(2), "resNFe_v1.01.xsd", b"<a/>")]
    )
    client = DistDFeClient(FakeTransport([dist_answer(page)]), HOMOLOGATION)
    answer = DistDFeSource(client, client, lambda: NOW).after(COMPANY.cnpj, nsu(1))
    assert answer.caught_up
    assert answer.outcome.wait_seconds == 3600


def test_cons_chave_answers_are_outside_the_nsu_stream() -> None:
    page = ret_dist_dfe(
        "138", "ok", ult_nsu=nsu(7), max_nsu=nsu(9), docs=[Doc(nsu(7), "procNFe_v4.00.xsd", b"<a/>")]
    )
    once = DistDFeClient(FakeTransport([dist_answer(page)]), HOMOLOGATION, retry=RetryPolicy(attempts=1))
    key = proc_nfe(SUPPLIER, COMPANY, number=7).key
    answer = DistDFeSource(once, once, lambda: NOW).by_key(COMPANY.cnpj, key)
    assert answer.nsu_range is None
    assert [d.nsu for d in answer.documents] == [None]


def test_adn_source_turns_the_json_batch_into_an_answer() -> None:
    body: dict[str, object] = {
        "StatusProcessamento": "DOCUMENTOS_LOCALIZADOS",
        "LoteDFe": [adn_item(41, b"<NFSe/>"), adn_item(42, b"<NFSe/>")],
        "TipoAmbiente": "HOMOLOGACAO",
    }
    source = AdnSource(AdnClient(FakeTransport([adn_answer(200, body)]), HOMOLOGATION), lambda: NOW)

    answer = source.after(COMPANY.cnpj, nsu(40))

    assert (answer.ult_nsu, answer.nsu_range, answer.caught_up) == (nsu(42), (40, 42), False)
    assert [d.nsu for d in answer.documents] == [nsu(41), nsu(42)]
    empty = AdnSource(
        AdnClient(
            FakeTransport(
                [
                    adn_answer(
                        404,
                        {
                            "StatusProcessamento": "NENHUM_DOCUMENTO_LOCALIZADO",
                            "Erros": [{"Codigo": "E2220"}],
                        },
                    )
                ]
            ),
            HOMOLOGATION,
        ),
        lambda: NOW,
    ).after(COMPANY.cnpj, nsu(42))
    assert empty.outcome.category is Category.EMPTY
    assert empty.ult_nsu == nsu(42)


def test_an_answer_survives_the_journal_round_trip() -> None:
    page = ret_dist_dfe(
        "138", "ok", ult_nsu=nsu(1), max_nsu=nsu(3), docs=[Doc(nsu(1), "resNFe_v1.01.xsd", b"<x/>")]
    )
    client = DistDFeClient(FakeTransport([dist_answer(page)]), HOMOLOGATION)
    answer = DistDFeSource(client, client, lambda: NOW).after(COMPANY.cnpj, nsu(0))
    again = Answer.from_json(json.loads(json.dumps(answer.to_json())))
    assert again == answer
    assert again.documents == (DocZip(nsu(1), "resNFe_v1.01.xsd", b"<x/>"),)
    assert encode_doczip(b"<x/>")  # the journal keeps the decoded XML, not the docZip
