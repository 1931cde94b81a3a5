"""Manifestação lots: schema, Id, signature (signxml and xmlsec1), answers and procEventoNFe."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.environments import TpAmb
from fiscal_core.sefaz.errors import MalformedResponse
from fiscal_core.sefaz.evento import (
    Manifestacao,
    ManifestacaoEvent,
    SignedLot,
    build_env_evento,
    dh_evento,
)
from fiscal_core.sefaz.evento_result import parse_ret_env_evento
from fiscal_core.signing import DSIG_NS, verify_element
from local.fixtures.certificates import CertificateAuthority, IssuedCertificate
from local.fixtures.documents import Company, GeneratedDocument, proc_nfe
from local.fixtures.xmlsec import check_signatures
from local.fixtures.xsd import assert_valid
from tests.unit.sefaz.answers import NFE_NS, find, ret_env_evento

ENV_XSD = "nfe_evento_mde/schemas/v1_0/envConfRecebto_v1.00.xsd"
PROC_XSD = "nfe_evento_mde/schemas/v1_0/procConfRecebtoNFe_v1.00.xsd"
GENERIC_PROC_XSD = "nfe_evento_generico/schemas/v1_0/procEventoNFe_v1.00.xsd"
WHEN = datetime(2026, 3, 10, 13, 0, 5, 123456, tzinfo=UTC)
N = f"{{{NFE_NS}}}"
JUSTIFICATION = "Mercadoria devolvida: operacao desfeita pelo comprador"


@pytest.fixture(scope="module")
def notes(recipient: Company) -> list[GeneratedDocument]:
    """Four NF-e addressed to the recipient, one per manifestação."""
    issuer = Company("11222333000181", "FORNECEDOR TESTE LTDA")
    return [proc_nfe(issuer, recipient, number=n) for n in range(1, 5)]


@pytest.fixture(scope="module")
def events(notes: list[GeneratedDocument]) -> list[ManifestacaoEvent]:
    """One event of each type, the last with its justification."""
    return [
        ManifestacaoEvent(notes[0].key, Manifestacao.CIENCIA),
        ManifestacaoEvent(notes[1].key, Manifestacao.CONFIRMACAO),
        ManifestacaoEvent(notes[2].key, Manifestacao.DESCONHECIMENTO),
        ManifestacaoEvent(notes[3].key, Manifestacao.NAO_REALIZADA, f"  {JUSTIFICATION}\n"),
    ]


@pytest.fixture(scope="module")
def lot(
    events: list[ManifestacaoEvent], recipient: Company, recipient_certificate: IssuedCertificate
) -> SignedLot:
    """The four events, signed by the recipient, in homologação."""
    return build_env_evento(
        events,
        cnpj=recipient.cnpj,
        tp_amb=TpAmb.HOMOLOGATION,
        signer=recipient_certificate.signer(),
        id_lote=202603100001,
        when=WHEN,
    )


def test_the_lot_satisfies_the_official_schemas(lot: SignedLot, events: list[ManifestacaoEvent]) -> None:
    assert_valid(lot.xml, ENV_XSD)
    root = etree.fromstring(lot.xml)
    for event, evento in zip(events, root.iter(f"{N}evento"), strict=True):
        # Each detEvento also satisfies its event-specific schema, as SEFAZ checks (cStat 493).
        assert_valid(
            find(evento, f"{N}infEvento/{N}detEvento"),
            f"nfe_evento_mde/schemas/v1_0/e{event.tipo.tp_evento}_v1.00.xsd",
        )


def test_each_event_is_shaped_as_the_an_expects(
    lot: SignedLot, events: list[ManifestacaoEvent], recipient: Company
) -> None:
    root = etree.fromstring(lot.xml)
    assert root.findtext(f"{N}idLote") == "202603100001"
    for event, evento in zip(events, root.iter(f"{N}evento"), strict=True):
        inf = find(evento, f"{N}infEvento")
        assert inf.get("Id") == f"ID{event.tipo.tp_evento}{event.chave}01"
        assert [inf.findtext(f"{N}{name}") for name in ("cOrgao", "tpAmb", "CNPJ", "chNFe", "dhEvento")] == [
            "91",
            "2",
            recipient.cnpj,
            event.chave,
            "2026-03-10T10:00:05-03:00",
        ]
        assert inf.findtext(f"{N}detEvento/{N}descEvento") == event.tipo.description
        assert [etree.QName(child).localname for child in evento] == ["infEvento", "Signature"]
        assert evento[1].nsmap == {None: DSIG_NS}  # no ds: prefix (cStat 404/290)
    assert root.findtext(f".//{N}xJust") == JUSTIFICATION  # trimmed, single line
    assert b"\n" not in lot.xml


def test_every_signature_verifies_with_xmlsec1(lot: SignedLot, ca: CertificateAuthority) -> None:
    checks = check_signatures(lot.xml, ca.trusted)
    assert len(checks) == 4
    assert all(check.ok for check in checks), [check.output for check in checks]


def test_every_signature_verifies_with_signxml(
    lot: SignedLot, ca: CertificateAuthority, recipient: Company
) -> None:
    for evento in etree.fromstring(lot.xml).iter(f"{N}evento"):
        verified = verify_element(evento, ca.trusted)
        assert verified.element_id == evento[0].get("Id")
        assert recipient.cnpj in verified.certificate.subject.rfc4514_string()


def test_signed_eventos_are_kept_for_the_proc(lot: SignedLot, events: list[ManifestacaoEvent]) -> None:
    assert list(lot.eventos) == [event.key for event in events]
    inside = [etree.tostring(e) for e in etree.fromstring(lot.xml).iter(f"{N}evento")]
    assert [etree.tostring(etree.fromstring(x)) for x in lot.eventos.values()] == inside


def test_dh_evento_is_brasilia_time_in_whole_seconds() -> None:
    assert dh_evento(WHEN) == "2026-03-10T10:00:05-03:00"
    with pytest.raises(InvalidValue, match="timezone"):
        dh_evento(datetime(2026, 3, 10, 10, 0))


def _build(events: list[ManifestacaoEvent], cert: IssuedCertificate, cnpj: str = "") -> SignedLot:
    return build_env_evento(
        events,
        cnpj=cnpj or cert.cnpj or "",
        tp_amb=TpAmb.PRODUCTION,
        signer=cert.signer(),
        id_lote=1,
        when=WHEN,
    )


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (lambda key: ManifestacaoEvent(key, Manifestacao.NAO_REALIZADA), "15 to 255"),
        (lambda key: ManifestacaoEvent(key, Manifestacao.NAO_REALIZADA, "curta demais"), "15 to 255"),
        (lambda key: ManifestacaoEvent(key, Manifestacao.NAO_REALIZADA, "x" * 256), "15 to 255"),
        (lambda key: ManifestacaoEvent(key, Manifestacao.NAO_REALIZADA, "Devolução — mercadoria"), "Latin-1"),
        (lambda key: ManifestacaoEvent(key, Manifestacao.CIENCIA, JUSTIFICATION), "no justification"),
        (lambda key: ManifestacaoEvent(key, Manifestacao.CIENCIA, n_seq_evento=100), "1 to 99"),
        (lambda key: ManifestacaoEvent(key[:-1] + "0", Manifestacao.CIENCIA), "check digit"),
    ],
)
def test_bad_events_are_refused(
    event, problem: str, notes: list[GeneratedDocument], recipient_certificate: IssuedCertificate
) -> None:
    with pytest.raises(InvalidValue, match=problem):
        _build([event(notes[0].key)], recipient_certificate)


def test_lot_size_and_duplicates_are_checked(
    notes: list[GeneratedDocument], recipient_certificate: IssuedCertificate
) -> None:
    ciencia = ManifestacaoEvent(notes[0].key, Manifestacao.CIENCIA)
    with pytest.raises(InvalidValue, match="1 to 20"):
        _build([], recipient_certificate)
    with pytest.raises(InvalidValue, match="1 to 20"):
        _build([ciencia] * 21, recipient_certificate)
    with pytest.raises(InvalidValue, match="twice"):
        _build([ciencia, ciencia], recipient_certificate)


def test_nfce_cannot_be_manifested(recipient: Company, recipient_certificate: IssuedCertificate) -> None:
    from local.fixtures.documents import proc_nfce

    nfce = proc_nfce(Company("11222333000181"))
    with pytest.raises(InvalidValue, match="model 55"):
        _build([ManifestacaoEvent(nfce.key, Manifestacao.CIENCIA)], recipient_certificate)


def test_a_second_conclusive_event_uses_sequence_two(
    notes: list[GeneratedDocument], recipient_certificate: IssuedCertificate
) -> None:
    lot = _build(
        [ManifestacaoEvent(notes[1].key, Manifestacao.CONFIRMACAO, n_seq_evento=2)], recipient_certificate
    )
    assert_valid(lot.xml, ENV_XSD)
    assert f'Id="ID210200{notes[1].key}02"'.encode() in lot.xml


def _answer(lot: SignedLot, events: list[ManifestacaoEvent], codes: list[str]) -> etree._Element:
    texts = {
        "135": "Evento registrado e vinculado a NF-e",
        "573": "Rejeicao: Duplicidade de evento",
        "596": "Rejeicao: Evento apresentado apos o prazo permitido para o evento",
        "136": "Evento registrado, mas nao vinculado a NF-e",
    }
    rows = [
        (code, texts[code], e.chave, e.tipo.tp_evento, e.n_seq_evento)
        for code, e in zip(codes, events, strict=True)
    ]
    # The AN answers in its own order.
    return etree.fromstring(ret_env_evento(lot.id_lote, list(reversed(rows))))


def test_answers_are_matched_to_their_events(
    lot: SignedLot, events: list[ManifestacaoEvent], ca: CertificateAuthority
) -> None:
    result = parse_ret_env_evento(_answer(lot, events, ["135", "573", "596", "136"]), lot)
    assert result.outcome.category is Category.SUCCESS and result.id_lote == "202603100001"
    by_key = {r.chave: r for r in result.events}
    assert [by_key[e.chave].outcome.category for e in events] == [
        Category.REGISTERED,
        Category.DUPLICATE,
        Category.DEADLINE,
        Category.REGISTERED,
    ]
    registered = by_key[events[0].chave]
    assert registered.protocol == "891260000012345"
    assert registered.registered_at == datetime.fromisoformat("2026-03-10T10:00:00-03:00")
    assert by_key[events[1].chave].proc_evento is None  # a duplicate has no protocol of ours
    for event in (events[0], events[3]):
        proc = by_key[event.chave].proc_evento
        assert proc is not None
        assert_valid(proc, PROC_XSD)
        assert_valid(proc, GENERIC_PROC_XSD)
        assert all(check.ok for check in check_signatures(proc, ca.trusted))
        assert etree.fromstring(proc).findtext(f"{N}evento/{N}infEvento/{N}chNFe") == event.chave


def test_a_lot_rejection_has_no_event_results(lot: SignedLot) -> None:
    answer = ret_env_evento(lot.id_lote, [], cstat="215", xmotivo="Rejeicao: Falha no schema XML")
    result = parse_ret_env_evento(etree.fromstring(answer), lot)
    assert (result.outcome.category, result.events) == (Category.SCHEMA, ())


def test_an_answer_to_another_lot_is_refused(lot: SignedLot) -> None:
    with pytest.raises(MalformedResponse, match="answers lot '999'"):
        parse_ret_env_evento(etree.fromstring(ret_env_evento("999", [])), lot)


def test_a_registered_event_that_was_not_sent_is_refused(lot: SignedLot) -> None:
    stranger = ("135", "Evento registrado e vinculado a NF-e", "3" * 44, "210210", 1)
    with pytest.raises(MalformedResponse, match="did not send"):
        parse_ret_env_evento(etree.fromstring(ret_env_evento(lot.id_lote, [stranger])), lot)


def test_a_rejected_lot_may_answer_with_lot_zero(lot: SignedLot) -> None:
    answer = ret_env_evento("0", [], cstat="215", xmotivo="Rejeicao: Falha no schema XML")
    assert parse_ret_env_evento(etree.fromstring(answer), lot).outcome.cstat == "215"
