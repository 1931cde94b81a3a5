"""The manifestação do destinatário at the AN: acceptance rules, deadlines and release of the XML."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from lxml import etree

from local.fixtures.documents import GeneratedDocument, nfe_event, proc_nfe
from local.fixtures.documents.events import EventType
from local.fixtures.documents.xmlbuild import NFE_NS
from local.fixtures.xsd import assert_valid
from local.sefaz import Code, DistributionEngine, Service
from local.sefaz.manifestacao import EventRequest, register

from .conftest import COMPANY, RELEASE_DELAY, START, SUPPLIER, cons_key, fill

_EVENTS = {event.value: event for event in EventType}
PROC_EVENTO_XSD = "nfe_evento_generico/schemas/v1_0/procEventoNFe_v1.00.xsd"


def request(
    note: GeneratedDocument,
    event_type: str = "210210",
    *,
    sequence: int = 1,
    at: datetime | None = None,
    text: str | None = None,
    **changes: object,
) -> EventRequest:
    """A manifestação the XML layer would pass on: signed by the company, signature verified."""
    moment = at or START - timedelta(minutes=5)
    signed = nfe_event(note, _EVENTS[event_type], sequence=sequence, at=moment, text=text)
    evento = signed.tree().find(f"{{{NFE_NS}}}evento")
    assert evento is not None
    base = EventRequest(
        event_id=f"ID{event_type}{note.key}{sequence:02d}",
        key=note.key,
        author=COMPANY.cnpj,
        event_type=event_type,
        sequence=sequence,
        event_at=moment,
        tp_amb="2",
        justification=text,
        signer_cnpj=COMPANY.cnpj,
        signature_problem=None,
        evento_xml=etree.tostring(evento),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def known(engine: DistributionEngine, note, summary) -> DistributionEngine:
    """The engine with the note registered and its resNFe (NSU 1) in the company's queue."""
    engine.register_note(note.xml)
    fill(engine, summary, 1)
    return engine


def schemas(engine: DistributionEngine) -> list[str]:
    return [item.schema for item in engine.log(Service.NFE_DIST, COMPANY.cnpj).items()]


def test_ciencia_is_registered_and_the_procnfe_follows_under_a_new_nsu_after_the_delay(known, clock, note):
    answer = register(known, request(note))

    assert (answer.code.cstat, answer.description) == ("135", "Ciencia da Operacao")
    assert answer.protocol is not None and len(answer.protocol) == 15
    assert schemas(known) == ["resNFe_v1.01.xsd", "procEventoNFe_v1.00.xsd"]
    assert cons_key(known, note.key).items[0].schema == "resNFe_v1.01.xsd"

    clock.advance(RELEASE_DELAY)

    log = known.log(Service.NFE_DIST, COMPANY.cnpj)
    assert schemas(known)[-1] == "procNFe_v4.00.xsd"
    assert (log.items()[-1].nsu, log.items()[-1].xml) == (3, note.xml)
    assert not known.ledger, known.ledger.describe()


def test_the_own_manifestacao_comes_back_as_a_schema_valid_proc_evento(known, note):
    register(known, request(note))

    proc = known.log(Service.NFE_DIST, COMPANY.cnpj).get(2)

    assert proc is not None
    assert_valid(proc.xml, PROC_EVENTO_XSD)
    assert_valid(proc.xml, "nfe_evento_mde/schemas/v1_0/procConfRecebtoNFe_v1.00.xsd")


@pytest.mark.parametrize(
    ("event_type", "text"),
    [("210200", None), ("210240", "Mercadoria nao foi entregue no prazo combinado")],
    ids=["confirmacao", "operacao-nao-realizada"],
)
def test_conclusive_events_that_release_the_xml(known, clock, note, event_type, text):
    assert register(known, request(note, event_type, text=text)).code is Code.EVENT_REGISTERED
    clock.advance(RELEASE_DELAY)

    assert schemas(known)[-1] == "procNFe_v4.00.xsd"


def test_desconhecimento_releases_nothing(known, clock, note):
    assert register(known, request(note, "210220")).code is Code.EVENT_REGISTERED
    clock.advance(timedelta(days=3))

    assert "procNFe_v4.00.xsd" not in schemas(known)
    assert cons_key(known, note.key).items[0].schema == "resNFe_v1.01.xsd"


def test_the_xml_is_released_once(known, clock, note):
    register(known, request(note))
    register(known, request(note, "210200"))
    clock.advance(RELEASE_DELAY)

    assert schemas(known).count("procNFe_v4.00.xsd") == 1


def test_duplicates_and_ciencia_after_a_conclusive_event_are_refused_without_blame(known, note):
    first = register(known, request(note, "210220"))
    duplicate = register(known, request(note, "210220"))
    late_ciencia = register(known, request(note, "210210"))

    assert (first.code, duplicate.code.cstat, late_ciencia.code.cstat) == (
        Code.EVENT_REGISTERED,
        "573",
        "655",
    )
    assert not known.ledger  # another system may have sent them; SEFAZ does not block for it


def test_each_conclusive_event_may_happen_twice(known, note):
    answers = [register(known, request(note, "210200", sequence=sequence)) for sequence in (1, 2, 3)]
    ciencia_again = register(known, request(note, "210210", sequence=2))

    assert [answer.code.cstat for answer in answers] == ["135", "135", "594"]
    assert ciencia_again.code.cstat == "594"


def test_operacao_nao_realizada_needs_a_justification(known, note):
    assert register(known, request(note, "210240")).code is Code.JUSTIFICATION_REQUIRED
    assert known.ledger.entries[0].service is Service.NFE_EVENTO


def test_deadlines_count_from_the_emission(known, clock, note):
    clock.advance(timedelta(days=11))
    late_ciencia = register(known, request(note, at=clock.now()))
    in_time_confirmation = register(known, request(note, "210200", at=clock.now()))
    clock.advance(timedelta(days=175))
    late_confirmation = register(known, request(note, "210200", sequence=2, at=clock.now()))

    assert [late_ciencia.code.cstat, in_time_confirmation.code.cstat, late_confirmation.code.cstat] == [
        "596",
        "135",
        "596",
    ]


def test_who_may_manifest(known, note):
    answers = {
        "not the recipient": register(known, request(note, author=SUPPLIER.cnpj, signer_cnpj=SUPPLIER.cnpj)),
        "signed by another company": register(known, request(note, signer_cnpj=SUPPLIER.cnpj)),
        "unverified signature": register(known, request(note, signer_cnpj=None, signature_problem="digest")),
    }

    assert {name: answer.code.cstat for name, answer in answers.items()} == {
        "not the recipient": "575",
        "signed by another company": "631",
        "unverified signature": "297",
    }


def test_what_the_event_must_say(known, clock, note):
    other_key = proc_nfe(SUPPLIER, COMPANY, number=55).key
    bad_digit = note.key[:-1] + str((int(note.key[-1]) + 1) % 10)
    answers = {
        "unknown key": register(known, request(note, key=other_key, event_id=f"ID210210{other_key}01")),
        "check digit": register(known, request(note, key=bad_digit, event_id=f"ID210210{bad_digit}01")),
        "id": register(known, request(note, event_id=f"ID210200{note.key}01")),
        "environment": register(known, request(note, tp_amb="1")),
        "future": register(known, request(note, event_at=clock.now() + timedelta(hours=1))),
        "before emission": register(known, request(note, event_at=START - timedelta(days=1))),
    }

    assert {name: answer.code.cstat for name, answer in answers.items()} == {
        "unknown key": "494",
        "check digit": "236",
        "id": "572",
        "environment": "252",
        "future": "578",
        "before emission": "577",
    }
    assert len(known.ledger) == 6


def test_a_cancelled_note_takes_no_manifestacao(known, note):
    cancellation = nfe_event(note, EventType.CANCELAMENTO, at=START - timedelta(minutes=30))
    known.publish(Service.NFE_DIST, COMPANY.cnpj, "procEventoNFe_v1.00.xsd", cancellation.xml)

    assert register(known, request(note)).code is Code.NFE_NOT_AUTHORIZED


def test_a_note_seeded_as_manifested_refuses_a_second_ciencia(engine, note):
    engine.register_note(note.xml, events=[("210210", 1)])

    assert register(engine, request(note)).code is Code.EVENT_DUPLICATE
    assert engine.notes.get(note.key).released
