"""Manifestação over HTTPS: signed with fiscal_core.signing and a test-CA certificate, as a client would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from local.fixtures.certificates import Variant, company_certificate, default_ca
from local.fixtures.documents import Company, proc_nfe, res_nfe
from local.fixtures.documents.xmlbuild import BRASILIA, NFE_NS
from local.fixtures.identities import cnpj_for
from local.fixtures.xsd import assert_valid
from local.sefaz import Code, Service
from local.sefaz.recepcao_evento import RESPONSE_XSD
from tests.unit.sefaz_sim import messages as m

from .conftest import COMPANY, RELEASE_DELAY, Client

SUPPLIER = Company(cnpj_for("fornecedor https"), "FORNECEDOR HTTPS LTDA", uf="MG")
N = f"{{{NFE_NS}}}"


@pytest.fixture
def note(sefaz):
    """An NF-e to the company, known to the AN, its resNFe in the company's queue."""
    issued = proc_nfe(
        SUPPLIER, COMPANY, number=11, issued_at=(sefaz.clock.now() - timedelta(hours=3)).astimezone(BRASILIA)
    )
    sefaz.engine.register_note(issued.xml)
    sefaz.engine.publish(Service.NFE_DIST, COMPANY.cnpj, "resNFe_v1.01.xsd", res_nfe(issued).xml)
    return issued


def send(client: Client, *eventos: bytes, action: str = m.EVENTO_ACTION) -> etree._Element:
    reply = client.soap(m.EVENTO_PATH, m.evento_soap(m.env_evento(*eventos)), action)
    answer = reply.xml().find(f".//{N}retEnvEvento")
    assert reply.status == 200 and answer is not None, reply.body
    assert_valid(answer, RESPONSE_XSD)
    return answer


def event_cstats(answer: etree._Element) -> list[str]:
    return [ret.findtext(f"{N}infEvento/{N}cStat") or "" for ret in answer.iterfind(f"{N}retEvento")]


def ciencia(sefaz, note, signer=None, **options) -> bytes:
    signer = signer or company_certificate(COMPANY.cnpj, COMPANY.name).signer()
    return m.signed_evento(
        note.key, COMPANY.cnpj, signer, at=sefaz.clock.now() - timedelta(minutes=1), **options
    )


def test_a_signed_ciencia_is_registered_and_releases_the_procnfe(sefaz, client, note):
    answer = send(client, ciencia(sefaz, note))

    info = answer.find(f"{N}retEvento/{N}infEvento")
    assert info is not None
    assert (answer.findtext(f"{N}cStat"), info.findtext(f"{N}cStat")) == ("128", "135")
    assert len(info.findtext(f"{N}nProt") or "") == 15

    sefaz.clock.advance(RELEASE_DELAY)
    schemas = [item.schema for item in sefaz.engine.log(Service.NFE_DIST, COMPANY.cnpj).items()]
    assert schemas == ["resNFe_v1.01.xsd", "procEventoNFe_v1.00.xsd", "procNFe_v4.00.xsd"]
    assert not sefaz.ledger, sefaz.ledger.describe()


def test_a_second_ciencia_is_a_duplicate(sefaz, client, note):
    send(client, ciencia(sefaz, note))

    assert event_cstats(send(client, ciencia(sefaz, note))) == ["573"]


def test_a_tampered_event_fails_its_signature(sefaz, client, note):
    signed = ciencia(sefaz, note)
    tampered = _shift_seconds(signed)

    assert tampered != signed
    assert event_cstats(send(client, tampered)) == ["297"]
    assert sefaz.ledger.codes() == [Code.SIGNATURE_MISMATCH]


def _shift_seconds(signed: bytes) -> bytes:
    """The same event with dhEvento one second earlier: still schema-valid, no longer what was signed."""
    root = etree.fromstring(signed)
    moment = root.find(f"{N}infEvento/{N}dhEvento")
    assert moment is not None and moment.text is not None
    seconds = int(moment.text[17:19])
    moment.text = f"{moment.text[:17]}{(seconds + 59) % 60:02d}{moment.text[19:]}"
    return etree.tostring(root)


def test_an_event_signed_by_another_company_is_631(sefaz, client, note):
    stranger = default_ca().issue_ecnpj(COMPANY.cnpj, COMPANY.name, variant=Variant.OTHER_CNPJ).signer()

    assert event_cstats(send(client, ciencia(sefaz, note, signer=stranger))) == ["631"]
    assert sefaz.ledger.entries[0].service is Service.NFE_EVENTO


def test_one_lot_answers_each_event(sefaz, client, note):
    answer = send(
        client,
        ciencia(sefaz, note),
        ciencia(sefaz, note, event_type="210240", justification="Mercadoria recusada na entrega"),
        action=f"{m.EVENTO_WSDL}/nfeRecepcaoEvento",
    )

    assert event_cstats(answer) == ["135", "135"]
