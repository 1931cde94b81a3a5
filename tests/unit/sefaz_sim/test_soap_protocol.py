"""The SOAP adapters without sockets: envelopes, actions, message checks and schema-valid answers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from lxml import etree

from local.fixtures.certificates import company_certificate, default_ca
from local.fixtures.documents.xmlbuild import CTE_NS, NFE_NS
from local.fixtures.xsd import assert_valid
from local.sefaz import Code, DistributionEngine, Service
from local.sefaz.distribuicao_dfe import DIST_SPECS, handler
from local.sefaz.recepcao_evento import BINDING, RESPONSE_XSD
from local.sefaz.recepcao_evento import handler as evento_handler
from local.sefaz.soap import serve
from local.sefaz.wire import Request, Response

from . import messages as m
from .conftest import COMPANY, START, fill

NFE, CTE = DIST_SPECS[Service.NFE_DIST], DIST_SPECS[Service.CTE_DIST]
# The same distDFeInt with the nfe namespace bound to a prefix, which SEFAZ refuses (404).
PREFIXED = (
    f'<n:distDFeInt xmlns:n="{NFE_NS}" versao="1.01"><n:tpAmb>2</n:tpAmb><n:CNPJ>{COMPANY.cnpj}</n:CNPJ>'
    "<n:distNSU><n:ultNSU>000000000000000</n:ultNSU></n:distNSU></n:distDFeInt>"
)


def call_nfe(
    engine: DistributionEngine, body: bytes, headers: dict[str, str], cnpj: str | None = COMPANY.cnpj
) -> Response:
    return serve(NFE.binding, Request("POST", m.NFE_DIST_PATH, {}, headers, body, cnpj), handler(engine, NFE))


def call_cte(engine: DistributionEngine, message: str) -> Response:
    body = m.soap(message, wsdl=m.CTE_DIST_WSDL, operation="cteDistDFeInteresse", holder="cteDadosMsg")
    request = Request("POST", m.CTE_DIST_PATH, {}, m.headers(m.CTE_DIST_ACTION), body, COMPANY.cnpj)
    return serve(CTE.binding, request, handler(engine, CTE))


def ret(response: Response, namespace: str = NFE_NS) -> etree._Element:
    found = etree.fromstring(response.body).find(f".//{{{namespace}}}retDistDFeInt")
    assert found is not None, response.body
    return found


def cstat(response: Response, namespace: str = NFE_NS) -> str:
    return ret(response, namespace).findtext(f"{{{namespace}}}cStat") or ""


def dist_body(ult: int = 0, *, version: str = "1.1") -> bytes:
    return m.soap(m.dist_dfe(COMPANY.cnpj, m.dist_nsu(ult)), version=version)


def test_soap_11_answers_in_soap_11_with_the_wsdl_wrappers(engine, summary):
    fill(engine, summary, 60)

    response = call_nfe(engine, dist_body(), m.headers(m.NFE_DIST_ACTION))

    body = etree.fromstring(response.body)
    assert (response.status, response.content_type) == (200, "text/xml; charset=utf-8")
    assert body.tag == f"{{{m.SOAP11}}}Envelope"
    wrapper = body.find(f"{{{m.SOAP11}}}Body/{{{m.NFE_DIST_WSDL}}}nfeDistDFeInteresseResponse")
    assert wrapper is not None and wrapper.find(f"{{{m.NFE_DIST_WSDL}}}nfeDistDFeInteresseResult") is not None
    answer = ret(response)
    assert_valid(answer, NFE.response_xsd)
    assert len(answer.find(f"{{{NFE_NS}}}loteDistDFeInt")) == 50  # type: ignore[arg-type]
    assert answer.findtext(f"{{{NFE_NS}}}ultNSU") == "000000000000050"


@pytest.mark.parametrize("action", [m.NFE_DIST_ACTION, None], ids=["action-parameter", "no-action"])
def test_soap_12_answers_in_soap_12(engine, action):
    response = call_nfe(engine, dist_body(version="1.2"), m.headers(action, version="1.2"))

    assert (response.status, response.content_type) == (200, "application/soap+xml; charset=utf-8")
    assert etree.fromstring(response.body).tag == f"{{{m.SOAP12}}}Envelope"
    assert cstat(response) == "137"


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (dist_body(), m.headers(None), "SOAPAction"),
        (dist_body(), m.headers(f"{m.NFE_DIST_WSDL}/outra"), "SOAPAction"),
        (b"not xml at all", m.headers(m.NFE_DIST_ACTION), "unable to read"),
        (dist_body(version="1.2"), m.headers(m.NFE_DIST_ACTION), "Envelope"),
        (m.soap("<x/>", operation="outraOperacao"), m.headers(m.NFE_DIST_ACTION), "operation"),
    ],
    ids=["no-action", "wrong-action", "not-xml", "version-mismatch", "wrong-operation"],
)
def test_envelope_problems_are_soap_faults(engine, body, headers, reason):
    response = call_nfe(engine, body, headers)

    fault = etree.fromstring(response.body).find(f"{{{m.SOAP11}}}Body/{{{m.SOAP11}}}Fault")
    assert response.status == 500
    assert fault is not None and fault.findtext("faultcode") == "soap:Client"
    assert reason in (fault.findtext("faultstring") or "")


def test_soap_12_faults_use_the_12_shape(engine):
    headers = {"content-type": "application/soap+xml; charset=utf-8; action=urn:nada"}

    response = call_nfe(engine, dist_body(version="1.2"), headers)

    root = etree.fromstring(response.body)
    assert response.status == 500
    assert root.findtext(f".//{{{m.SOAP12}}}Code/{{{m.SOAP12}}}Value") == "soap:Sender"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (m.dist_dfe(COMPANY.cnpj, "<distNSU><ultNSU>34000</ultNSU></distNSU>"), "215"),
        (m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0)).replace('versao="1.01"', 'versao="1.00"'), "215"),
        (PREFIXED, "404"),
        (m.dist_dfe(COMPANY.cnpj, m.dist_nsu(0)).replace("<tpAmb>", "\n  <tpAmb>"), "588"),
        ("", "215"),
    ],
    ids=["nsu-not-padded", "wrong-version", "namespace-prefix", "formatting", "empty"],
)
def test_message_problems_are_answered_with_a_cstat_and_recorded(engine, message, expected):
    response = call_nfe(engine, m.soap(message), m.headers(m.NFE_DIST_ACTION))

    assert (response.status, cstat(response)) == (200, expected)
    assert_valid(ret(response), NFE.response_xsd)
    assert [(entry.cnpj, entry.cstat) for entry in engine.ledger] == [(COMPANY.cnpj, expected)]


def test_cons_nsu_and_cons_ch_nfe_over_soap(engine, note, summary):
    engine.register_note(note.xml)
    fill(engine, summary, 1)

    by_nsu = call_nfe(engine, m.soap(m.dist_dfe(COMPANY.cnpj, m.cons_nsu(1))), m.headers(m.NFE_DIST_ACTION))
    by_key = call_nfe(
        engine, m.soap(m.dist_dfe(COMPANY.cnpj, m.cons_ch_nfe(note.key))), m.headers(m.NFE_DIST_ACTION)
    )

    for response in (by_nsu, by_key):
        assert cstat(response) == "138"
        doc = ret(response).find(f"{{{NFE_NS}}}loteDistDFeInt/{{{NFE_NS}}}docZip")
        assert doc is not None and doc.get("NSU") == "000000000000001"


def test_blocked_answers_are_schema_valid(engine, clock):
    for _ in range(2):
        response = call_nfe(engine, dist_body(), m.headers(m.NFE_DIST_ACTION))
    clock.advance(timedelta(minutes=1))

    answer = ret(response)
    assert_valid(answer, NFE.response_xsd)
    assert (answer.findtext(f"{{{NFE_NS}}}cStat"), answer.findtext(f"{{{NFE_NS}}}maxNSU")) == (
        "656",
        "0" * 15,
    )


def test_cte_distribution_has_its_own_namespace_version_and_dh_resp(engine):
    response = call_cte(engine, m.cte_dist_dfe(COMPANY.cnpj, m.dist_nsu(0)))

    answer = ret(response, CTE_NS)
    assert_valid(answer, CTE.response_xsd)
    assert (answer.get("versao"), cstat(response, CTE_NS)) == ("1.00", "137")
    assert "-03:00" not in (answer.findtext(f"{{{CTE_NS}}}dhResp") or "-03:00")


@pytest.mark.parametrize(
    "message",
    [
        m.cte_dist_dfe(COMPANY.cnpj, m.dist_nsu(0)).replace("<cUFAutor>35</cUFAutor>", ""),
        m.cte_dist_dfe(COMPANY.cnpj, m.cons_ch_nfe("3" * 44)),
    ],
    ids=["without-cUFAutor", "consChNFe"],
)
def test_cte_distribution_refuses_what_its_schema_does_not_have(engine, message):
    assert cstat(call_cte(engine, message), CTE_NS) == "215"


@pytest.fixture(scope="module")
def evento() -> bytes:
    signer = company_certificate(COMPANY.cnpj, COMPANY.name).signer()
    return m.signed_evento("3" * 44, COMPANY.cnpj, signer, at=START)


def call_evento(engine: DistributionEngine, lot: str, action: str = m.EVENTO_ACTION) -> etree._Element:
    request = Request("POST", m.EVENTO_PATH, {}, m.headers(action), m.evento_soap(lot), COMPANY.cnpj)
    response = serve(BINDING, request, evento_handler(engine, default_ca().trusted))
    answer = etree.fromstring(response.body).find(f".//{{{NFE_NS}}}retEnvEvento")
    assert answer is not None, response.body
    assert_valid(answer, RESPONSE_XSD)
    return answer


def test_a_lot_is_refused_whole_when_paused_or_invalid(engine, evento):
    # 21 copies: over the limit of 20, and their Ids repeat, which the schema forbids as well.
    engine.pause(Service.NFE_EVENTO)
    paused = call_evento(engine, m.env_evento(evento))
    engine.resume(Service.NFE_EVENTO)
    too_many = call_evento(engine, m.env_evento(*[evento] * 21))
    formatted = call_evento(engine, m.env_evento(evento).replace("<idLote>", "\n<idLote>"))

    assert [lot.findtext(f"{{{NFE_NS}}}cStat") for lot in (paused, too_many, formatted)] == [
        "108",
        "215",
        "588",
    ]
    assert all(lot.find(f"{{{NFE_NS}}}retEvento") is None for lot in (paused, too_many, formatted))
    assert engine.ledger.codes() == [Code.SCHEMA_INVALID, Code.FORMATTING_CHARACTERS]


def test_each_event_of_a_lot_gets_its_own_answer(engine, evento):
    signer = company_certificate(COMPANY.cnpj, COMPANY.name).signer()
    second = m.signed_evento("3" * 44, COMPANY.cnpj, signer, at=START, event_type="210200")

    answer = call_evento(engine, m.env_evento(evento, second, lot="77"))

    assert (answer.findtext(f"{{{NFE_NS}}}idLote"), answer.findtext(f"{{{NFE_NS}}}cStat")) == ("77", "128")
    assert [r.findtext(f".//{{{NFE_NS}}}cStat") for r in answer.iterfind(f"{{{NFE_NS}}}retEvento")] == [
        "236",
        "236",
    ]


def test_the_svrs_action_is_answered_with_nfe_result_msg(engine, evento):
    request = Request(
        "POST",
        m.EVENTO_PATH,
        {},
        m.headers(f"{m.EVENTO_WSDL}/nfeRecepcaoEvento"),
        m.evento_soap(m.env_evento(evento)),
        None,
    )

    response = serve(BINDING, request, evento_handler(engine, default_ca().trusted))

    assert etree.fromstring(response.body).find(f".//{{{m.EVENTO_WSDL}}}nfeResultMsg") is not None


def _prefixed_signature(evento: bytes) -> bytes:
    """The same event with its Signature under a ``ds:`` prefix (same namespace, other spelling)."""
    head, _, rest = evento.decode().partition("<Signature")
    signature, _, tail = rest.partition("</Signature>")
    signature = re.sub(r"<(/?)(?=[A-Za-z])", r"<\1ds:", signature).replace("xmlns=", "xmlns:ds=", 1)
    return f"{head}<ds:Signature{signature}</ds:Signature>{tail}".encode()


def _two_certificates(evento: bytes) -> bytes:
    """The same event with a second X509Certificate in KeyInfo (the restricted xmldsig allows one)."""
    certificate = re.search(rb"<X509Certificate>.*?</X509Certificate>", evento)
    assert certificate is not None
    return evento.replace(certificate.group(0), certificate.group(0) * 2)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [(_prefixed_signature, "404"), (_two_certificates, "215")],
    ids=["ds-prefix", "two-certificates"],
)
def test_the_signature_must_use_the_default_namespace_and_one_certificate(engine, evento, damage, expected):
    answer = call_evento(engine, m.env_evento(damage(evento)))

    assert answer.findtext(f"{{{NFE_NS}}}cStat") == expected
