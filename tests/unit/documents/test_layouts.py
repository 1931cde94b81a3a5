"""The layouts nfelib has no sample of, the status tables, the tomador rule, and what must fail."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from fiscal_core.documents import (
    DocType,
    DocumentMetadata,
    Family,
    Kind,
    Status,
    extract_metadata,
    read_document,
)
from fiscal_core.errors import DocumentError, UnsupportedDocument
from fiscal_core.identifiers import DocumentModel
from tests.unit.documents import builders
from tests.unit.documents.builders import AUTHOR_CNPJ, CTE_NS, ISSUER_CNPJ, NFE_NS, NFSE_KEY, access_key
from tests.unit.documents.samples import NFELIB, sample

BRT = timezone(timedelta(hours=-3))
NFE_KEY = access_key(DocumentModel.NFE)
NFCE_SAMPLE = "nfe/samples/v4_0/nfce_contingencia.xml"
CTE_SAMPLE = "cte/samples/v4_0/43120178408960000182570010000000041000000047-cte.xml"
CTE_OS_SAMPLE = "cte/samples/v4_0/35170799999999999999670000000000261309301440-cte-of.xml"
MDFE_SAMPLE = "mdfe/samples/v3_0/41190876676436000167580010000500001000437558-mdfe.xml"


def nfce_proc(cstat: str = "100") -> bytes:
    return builders.with_protocol(
        sample(NFCE_SAMPLE).read_bytes(),
        proc="nfeProc",
        protocol="protNFe",
        key_element="chNFe",
        versao="4.00",
        cstat=cstat,
    )


def edited(data: bytes, xpath: str, text: str | None) -> bytes:
    """``data`` with the text of every element at ``xpath`` (prefix n: the root's namespace)
    replaced, or the elements removed when ``text`` is None."""
    root = etree.fromstring(data)
    found = root.xpath(xpath, namespaces={"n": etree.QName(root).namespace or ""})
    assert isinstance(found, list) and found, f"nothing at {xpath}"
    for element in found:
        assert isinstance(element, etree._Element)
        parent = element.getparent()
        if text is not None:
            element.text = text
        elif parent is not None:
            parent.remove(element)
    return etree.tostring(root)


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, {"c": CTE_NS})
    assert found is not None, f"nothing at {path}"
    return found


@pytest.mark.parametrize(
    ("document", "xsd"),
    [
        (builders.res_nfe(NFE_KEY), "nfe_dist_dfe/schemas/v1_0/resNFe_v1.01.xsd"),
        (builders.res_evento(NFE_KEY), "nfe_dist_dfe/schemas/v1_0/resEvento_v1.01.xsd"),
        (builders.proc_evento_nfe(NFE_KEY), "nfe_evento_generico/schemas/v1_0/procEventoNFe_v1.00.xsd"),
        (
            builders.proc_evento_cte(access_key(DocumentModel.CTE)),
            "cte/schemas/v4_0/procEventoCTe_v4.00.xsd",
        ),
        (
            builders.proc_evento_mdfe(access_key(DocumentModel.MDFE)),
            "mdfe/schemas/v3_0/procEventoMDFe_v3.00.xsd",
        ),
        (builders.nfse_evento(), "nfse/schemas/v1_0/evento_v1.01.xsd"),
        (builders.gtve_proc(access_key(DocumentModel.GTVE)), "cte/schemas/v4_0/procGTVe_v4.00.xsd"),
        (
            builders.gtve_proc(access_key(DocumentModel.GTVE), taker="4"),
            "cte/schemas/v4_0/procGTVe_v4.00.xsd",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_synthetic_documents_satisfy_the_official_schema(document: bytes, xsd: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(NFELIB / xsd)))
    assert schema.validate(etree.fromstring(document)), schema.error_log


def test_res_nfe_is_a_summary_whose_series_and_number_come_from_the_key() -> None:
    assert read_document(builders.res_nfe(NFE_KEY)) == DocumentMetadata(
        family=Family.NFE,
        schema="resNFe 1.01",
        doc_type=DocType.NFE,
        kind=Kind.SUMMARY,
        access_key=NFE_KEY,
        model=55,
        series=1,
        number=123,
        issued_at=datetime(2024, 3, 5, 10, 15, tzinfo=BRT),
        issuer_doc=ISSUER_CNPJ,
        issuer_name="Fornecedor Exemplo Ltda",
        recipient_doc=None,
        recipient_name=None,
        total_value=Decimal("1234.56"),
        status=Status.AUTHORIZED,
        protocol="135240000000001",
        event_type=None,
        event_description=None,
        event_seq=None,
        event_at=None,
        author_doc=None,
    )


@pytest.mark.parametrize(
    ("situation", "status"), [("1", Status.AUTHORIZED), ("2", Status.DENIED), ("3", Status.CANCELLED)]
)
def test_res_nfe_status_is_cSitNFe(situation: str, status: Status) -> None:
    assert read_document(builders.res_nfe(NFE_KEY, situation=situation)).status is status


def test_res_evento_is_a_registered_event_about_the_nfe() -> None:
    metadata = read_document(builders.res_evento(NFE_KEY))

    assert (metadata.kind, metadata.doc_type, metadata.access_key) == (Kind.EVENT, DocType.NFE, NFE_KEY)
    assert (metadata.event_type, metadata.event_description, metadata.event_seq) == (
        "110111",
        "Cancelamento",
        1,
    )
    assert metadata.event_at == datetime(2024, 3, 6, 8, 0, tzinfo=BRT)
    assert (metadata.status, metadata.protocol, metadata.author_doc) == (
        Status.REGISTERED,
        "135240000000002",
        ISSUER_CNPJ,
    )
    assert (metadata.issuer_doc, metadata.total_value, metadata.series) == (None, None, None)


def test_proc_evento_nfe_carries_the_event_and_its_registration() -> None:
    nfce_key = access_key(DocumentModel.NFCE)
    assert read_document(builders.proc_evento_nfe(nfce_key)) == DocumentMetadata(
        family=Family.NFE,
        schema="procEventoNFe 1.00",
        doc_type=DocType.NFCE,
        kind=Kind.EVENT,
        access_key=nfce_key,
        model=65,
        series=None,
        number=None,
        issued_at=None,
        issuer_doc=None,
        issuer_name=None,
        recipient_doc=None,
        recipient_name=None,
        total_value=None,
        status=Status.REGISTERED,
        protocol="891240000000003",
        event_type="210210",
        event_description="Ciencia da Operacao",
        event_seq=1,
        event_at=datetime(2024, 3, 7, 9, 30, tzinfo=BRT),
        author_doc=AUTHOR_CNPJ,
    )


@pytest.mark.parametrize("cstat", ["134", "135", "136", "155"])
def test_an_event_protocol_with_a_registration_code_means_registered(cstat: str) -> None:
    assert read_document(builders.proc_evento_nfe(NFE_KEY, cstat=cstat)).status is Status.REGISTERED


def test_an_event_protocol_that_registered_nothing_is_an_error() -> None:
    with pytest.raises(DocumentError, match="status code 573 is none of those known for a procEventoNFe"):
        read_document(builders.proc_evento_nfe(NFE_KEY, cstat="573"))


def test_an_event_whose_answer_names_another_key_is_an_error() -> None:
    other = access_key(DocumentModel.NFE, number=999)
    with pytest.raises(DocumentError, match=f"the protocol is for access key {other}, not for {NFE_KEY}"):
        read_document(builders.proc_evento_nfe(NFE_KEY, ret_key=other))


@pytest.mark.parametrize(
    ("build", "model", "doc_type", "event_type", "description"),
    [
        (builders.proc_evento_cte, DocumentModel.CTE_OS, DocType.CTE, "110111", "Cancelamento"),
        (builders.proc_evento_mdfe, DocumentModel.MDFE, DocType.MDFE, "110112", "Encerramento"),
    ],
)
def test_cte_and_mdfe_events_read_their_grouped_detail(
    build: Callable[[str], bytes], model: DocumentModel, doc_type: DocType, event_type: str, description: str
) -> None:
    key = access_key(model)
    metadata = read_document(build(key))

    assert (metadata.access_key, metadata.model, metadata.doc_type) == (key, int(model.value), doc_type)
    assert (metadata.event_type, metadata.event_description, metadata.status) == (
        event_type,
        description,
        Status.REGISTERED,
    )
    assert metadata.protocol is not None and metadata.author_doc == ISSUER_CNPJ


def test_nfse_evento_is_registered_and_named_by_its_detail_element() -> None:
    metadata = read_document(builders.nfse_evento())

    assert (metadata.family, metadata.doc_type, metadata.kind) == (Family.NFSE, DocType.NFSE, Kind.EVENT)
    assert (metadata.access_key, metadata.model) == (NFSE_KEY, None)
    assert (metadata.event_type, metadata.event_description, metadata.event_seq) == (
        "101101",
        "Cancelamento de NFS-e",
        2,
    )
    assert (metadata.status, metadata.protocol, metadata.author_doc) == (Status.REGISTERED, None, ISSUER_CNPJ)
    assert metadata.event_at == datetime(2024, 3, 10, 14, 0, tzinfo=BRT)


@pytest.mark.parametrize(
    ("taker", "recipient"),
    [
        ("0", builders.SENDER_CNPJ),
        ("1", builders.RECIPIENT_CNPJ),
        ("4", builders.THIRD_PARTY_CNPJ),
    ],
)
def test_gtve_recipient_is_the_tomador_and_total_the_sum_of_species(taker: str, recipient: str) -> None:
    key = access_key(DocumentModel.GTVE)
    metadata = read_document(builders.gtve_proc(key, taker=taker, species=("1500.00", "250.50", "0.01")))

    assert (metadata.schema, metadata.doc_type, metadata.model) == ("GTVeProc 4.00", DocType.CTE, 64)
    assert metadata.recipient_doc == recipient
    assert metadata.total_value == Decimal("1750.51")
    assert (metadata.status, metadata.protocol) == (Status.AUTHORIZED, "135240000000008")


CTE_PARTIES = {
    "rem": "06990590000123",
    "exped": "60746948000112",
    "receb": "33000167000101",
    "dest": ISSUER_CNPJ,
}


def cte_proc(taker: str) -> bytes:
    """The CT-e sample with distinct parties, its tomador set to ``taker``, in a cteProc."""
    root = etree.fromstring(sample(CTE_SAMPLE).read_bytes())
    for role, cnpj in CTE_PARTIES.items():
        one(root, f"c:infCte/c:{role}/c:CNPJ").text = cnpj
    if taker == "4":
        toma4 = etree.fromstring(
            f'<toma4 xmlns="{CTE_NS}"><toma>4</toma><CNPJ>{AUTHOR_CNPJ}</CNPJ><xNome>Pagador</xNome></toma4>'
        )
        one(root, "c:infCte/c:ide").replace(one(root, "c:infCte/c:ide/c:toma3"), toma4)
    else:
        one(root, "c:infCte/c:ide/c:toma3/c:toma").text = taker
    return builders.with_protocol(
        etree.tostring(root), proc="cteProc", protocol="protCTe", key_element="chCTe", versao="3.00"
    )


@pytest.mark.parametrize(
    ("taker", "recipient"),
    [
        ("0", "06990590000123"),
        ("1", "60746948000112"),
        ("2", "33000167000101"),
        ("3", ISSUER_CNPJ),
        ("4", AUTHOR_CNPJ),
    ],
)
def test_cte_recipient_is_the_tomador_its_role_code_names(taker: str, recipient: str) -> None:
    metadata = read_document(cte_proc(taker))

    assert metadata.recipient_doc == recipient
    assert (metadata.schema, metadata.total_value, metadata.status) == (
        "cteProc 3.00",
        Decimal("2300.00"),
        Status.AUTHORIZED,
    )


@pytest.mark.parametrize(
    ("relative", "proc", "protocol", "key_element", "doc_type"),
    [
        (CTE_OS_SAMPLE, "cteOSProc", "protCTe", "chCTe", DocType.CTE),
        (MDFE_SAMPLE, "mdfeProc", "protMDFe", "chMDFe", DocType.MDFE),
    ],
)
def test_proc_envelopes_add_the_authorization(
    relative: str, proc: str, protocol: str, key_element: str, doc_type: DocType
) -> None:
    bare = sample(relative).read_bytes()
    wrapped = builders.with_protocol(
        bare, proc=proc, protocol=protocol, key_element=key_element, versao="3.00"
    )

    document, authorized = read_document(bare), read_document(wrapped)

    assert (authorized.schema, authorized.doc_type) == (f"{proc} 3.00", doc_type)
    assert (authorized.status, authorized.protocol) == (Status.AUTHORIZED, "135240000000009")
    assert (document.status, document.protocol) == (None, None)
    assert authorized.access_key == document.access_key and authorized.total_value == document.total_value


@pytest.mark.parametrize(
    ("cstat", "status"),
    [
        ("100", Status.AUTHORIZED),
        ("150", Status.AUTHORIZED),
        ("110", Status.DENIED),
        ("301", Status.DENIED),
        ("302", Status.DENIED),
        ("303", Status.DENIED),
        ("101", Status.CANCELLED),
        ("135", Status.CANCELLED),
        ("151", Status.CANCELLED),
        ("155", Status.CANCELLED),
    ],
)
def test_a_document_protocol_says_authorized_denied_or_cancelled(cstat: str, status: Status) -> None:
    assert read_document(nfce_proc(cstat)).status is status


def test_a_document_protocol_with_an_unknown_code_is_an_error_not_a_guess() -> None:
    with pytest.raises(DocumentError, match=r"nfeProc 4\.00: status code 204 is none of those known"):
        read_document(nfce_proc("204"))


def test_an_nfce_to_an_anonymous_consumer_has_no_recipient() -> None:
    metadata = read_document(edited(nfce_proc(), "//n:dest", None))

    assert (metadata.doc_type, metadata.model) == (DocType.NFCE, 65)
    assert metadata.recipient_doc is metadata.recipient_name is None


@pytest.mark.parametrize(
    ("xpath", "text", "problem"),
    [
        ("//n:ide/n:mod", "57", "model 57 (CT-e) does not belong in a nfeProc"),
        ("//n:ide/n:mod", "99", "model '99' is not a document model FiscalMix knows"),
        ("//n:ide/n:dhEmi", None, "issued_at not found (NFe/infNFe/ide/dhEmi)"),
        ("//n:ide/n:dhEmi", "2024-02-28T09:30:00", "has no UTC offset"),
        ("//n:ide/n:dhEmi", "28/02/2024", "is not a date-time"),
        ("//n:ide/n:nNF", "1O", "number '1O' is not a whole number"),
        ("//n:ICMSTot/n:vNF", "15,00", "total_value '15,00' is not a decimal amount"),
        ("//n:ICMSTot/n:vNF", "NaN", "total_value 'NaN' is not a decimal amount"),
        ("//n:protNFe/n:infProt/n:chNFe", NFE_KEY, f"the protocol is for access key {NFE_KEY}"),
    ],
)
def test_a_value_that_does_not_mean_what_its_field_needs_is_an_error(
    xpath: str, text: str | None, problem: str
) -> None:
    with pytest.raises(DocumentError) as raised:
        read_document(edited(nfce_proc(), xpath, text))

    assert str(raised.value).startswith("nfeProc 4.00: ")
    assert problem in str(raised.value)


@pytest.mark.parametrize("ident", ["NFe123", "NFe../../etc/passwd", ""])
def test_an_access_key_that_is_not_shaped_like_one_is_an_error(ident: str) -> None:
    root = etree.fromstring(nfce_proc())
    root[0][0].set("Id", ident)  # nfeProc/NFe/infNFe

    with pytest.raises(DocumentError, match=r"access[ _]key"):
        read_document(etree.tostring(root))


def test_an_unknown_root_is_unsupported() -> None:
    with pytest.raises(UnsupportedDocument, match=r"<nota> \(no namespace\) is not a fiscal document"):
        read_document(b"<nota><valor>10</valor></nota>")


def test_a_known_root_in_the_wrong_namespace_says_which_one_it_needs() -> None:
    with pytest.raises(
        UnsupportedDocument, match=f"<nfeProc> must be in namespace {NFE_NS}, found no namespace"
    ):
        read_document(b'<nfeProc versao="4.00"/>')


def test_extract_metadata_never_raises_for_bad_input() -> None:
    good = extract_metadata(nfce_proc())
    unsupported = extract_metadata(sample("nfse/samples/v1_0/dps-simples.xml").read_bytes())
    broken = extract_metadata(b"<nfeProc")

    assert good.metadata is not None and good.error is None and not good.unsupported
    assert unsupported.metadata is None and unsupported.unsupported
    assert "<DPS>" in str(unsupported.error)
    assert broken.metadata is None and not broken.unsupported
    assert "malformed or truncated XML" in str(broken.error)


def test_extract_metadata_passes_the_size_limit_on() -> None:
    result = extract_metadata(nfce_proc(), max_bytes=100)

    assert result.metadata is None and "the limit is 100" in str(result.error)


def test_threads_share_the_compiled_layouts_safely() -> None:
    documents = [builders.res_nfe(access_key(DocumentModel.NFE, number=n)) for n in range(1, 301)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = [metadata.number for metadata in pool.map(read_document, documents)]

    assert numbers == list(range(1, 301))
