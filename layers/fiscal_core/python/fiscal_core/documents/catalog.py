"""The layouts FiscalMix reads, from the official XSDs shipped in nfelib, as one table.

Choices the XSDs leave open, made once here:

- Access key: the signed ``Id`` of the document without its prefix (``NFe``, ``CTe``, ``MDFe``,
  ``NFS``); for summaries and events, the key of the document they concern.
- Recipient: ``dest`` for NF-e/NFC-e (None for an anonymous consumer); for CT-e, CT-e OS and
  GTV-e the tomador, the party who contracts and pays for the service, whether named by its role
  code (``toma3``/``toma``) or given in full (``toma4``/``tomaTerceiro``); ``toma`` for NFS-e;
  none for MDF-e.
- Total: ``vNF`` (NF-e), ``vTPrest`` (CT-e, CT-e OS), the sum of ``vEspecie`` (GTV-e has no
  total of its own), ``vCarga`` (MDF-e), ``vServ`` (NFS-e: the service value before
  withholdings, as ``vNF`` is).
- NFS-e: issued at the DPS's ``dhEmi``; no series (the DPS series is the DPS's) and no protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from fiscal_core.documents.layout import Expressions, FieldName, Layout
from fiscal_core.documents.metadata import DocType, Family, Kind, Status
from fiscal_core.identifiers import DocumentModel

# cStat of a document's protocol (NF-e, CT-e, MDF-e share the codes).
_PROTOCOL_STATUSES: Final = {
    "100": Status.AUTHORIZED,
    "150": Status.AUTHORIZED,  # authorized after the deadline
    "110": Status.DENIED,
    "205": Status.DENIED,
    "301": Status.DENIED,
    "302": Status.DENIED,
    "303": Status.DENIED,
    "101": Status.CANCELLED,
    "135": Status.CANCELLED,  # on a document's protocol: its cancellation event was registered
    "151": Status.CANCELLED,
    "155": Status.CANCELLED,
}
# cStat of an event's protocol (retEvento): the event was registered, linked or not.
_EVENT_STATUSES: Final = {
    "134": Status.REGISTERED,
    "135": Status.REGISTERED,
    "136": Status.REGISTERED,
    "155": Status.REGISTERED,  # a cancellation registered after the deadline
}
# cSitNFe of a resNFe; 3 (cancelled) is from NT 2014.002, the XSD documents only 1 and 2.
_SUMMARY_STATUSES: Final = {"1": Status.AUTHORIZED, "2": Status.DENIED, "3": Status.CANCELLED}
# cStat of an NFS-e: generated, by court decision, avulsa, MEI; all of them valid documents.
_NFSE_STATUSES: Final = dict.fromkeys(("100", "102", "103", "107"), Status.AUTHORIZED)

Models = dict[DocumentModel | None, DocType]
_NFE_MODELS: Final[Models] = {DocumentModel.NFE: DocType.NFE, DocumentModel.NFCE: DocType.NFCE}
_CTE_MODELS: Final[Models] = {DocumentModel.CTE: DocType.CTE}
_CTE_OS_MODELS: Final[Models] = {DocumentModel.CTE_OS: DocType.CTE}
_GTVE_MODELS: Final[Models] = {DocumentModel.GTVE: DocType.CTE}
_ANY_CTE_MODELS: Final = _CTE_MODELS | _CTE_OS_MODELS | _GTVE_MODELS
_MDFE_MODELS: Final[Models] = {DocumentModel.MDFE: DocType.MDFE}
_NFSE_MODELS: Final[Models] = {None: DocType.NFSE}

# The tomador's role code (ide/toma3/toma in CT-e, ide/toma/toma in GTV-e) and its element.
_CTE_TOMADOR_ROLES: Final = {"0": "rem", "1": "exped", "2": "receb", "3": "dest"}
_GTVE_TOMADOR_ROLES: Final = {"0": "rem", "1": "dest"}

Fields = dict[FieldName, Expressions]


def _doc(party: str, *elements: str) -> str:
    """The party's identifying document: whichever of its alternative elements is present."""
    return " | ".join(f"{party}/d:{element}" for element in elements or ("CNPJ", "CPF"))


def _key_part(key: str, start: int, length: int) -> str:
    """A slice of an access key (1-based, as XPath counts), for values only the key carries."""
    return f"substring({key}, {start}, {length})"


def _tomador(inf: str, *, code: str, roles: Mapping[str, str], in_full: str) -> str:
    """The CT-e family's tomador: a party named by its role code, or one given in full."""
    by_role = (f"{inf}/d:{role}[../d:ide/{code} = '{value}']" for value, role in roles.items())
    return f"({' | '.join((f'{inf}/d:ide/{in_full}', *by_role))})"


def _protocol(inf_prot: str, key: str) -> Fields:
    return {
        "status_code": f"{inf_prot}/d:cStat",
        "protocol": f"{inf_prot}/d:nProt",
        "protocol_key": f"{inf_prot}/d:{key}",
    }


def _nfe(inf: str, inf_prot: str | None = None) -> Fields:
    fields: Fields = {
        "version": ("@versao", f"{inf}/@versao"),
        # Some generators write the bare key as Id; the key's shape is checked either way.
        "access_key": (f"substring-after({inf}/@Id, 'NFe')", f"{inf}/@Id"),
        "model": f"{inf}/d:ide/d:mod",
        "series": f"{inf}/d:ide/d:serie",
        "number": f"{inf}/d:ide/d:nNF",
        "issued_at": f"{inf}/d:ide/d:dhEmi",
        "issuer_doc": _doc(f"{inf}/d:emit"),
        "issuer_name": f"{inf}/d:emit/d:xNome",
        "recipient_doc": _doc(f"{inf}/d:dest", "CNPJ", "CPF", "idEstrangeiro"),
        "recipient_name": f"{inf}/d:dest/d:xNome",
        "total_value": f"{inf}/d:total/d:ICMSTot/d:vNF",
    }
    return fields | _protocol(inf_prot, "chNFe") if inf_prot else fields


def _cte(inf: str, *, tomador: str, total: str, inf_prot: str | None = None) -> Fields:
    fields: Fields = {
        "version": ("@versao", f"{inf}/@versao"),
        "access_key": f"substring-after({inf}/@Id, 'CTe')",
        "model": f"{inf}/d:ide/d:mod",
        "series": f"{inf}/d:ide/d:serie",
        "number": f"{inf}/d:ide/d:nCT",
        "issued_at": f"{inf}/d:ide/d:dhEmi",
        "issuer_doc": _doc(f"{inf}/d:emit"),
        "issuer_name": f"{inf}/d:emit/d:xNome",
        "recipient_doc": _doc(tomador),
        "recipient_name": f"{tomador}/d:xNome",
        "total_value": total,
    }
    return fields | _protocol(inf_prot, "chCTe") if inf_prot else fields


def _cte_normal(inf: str, inf_prot: str | None = None) -> Fields:
    tomador = _tomador(inf, code="d:toma3/d:toma", roles=_CTE_TOMADOR_ROLES, in_full="d:toma4")
    return _cte(inf, tomador=tomador, total=f"{inf}/d:vPrest/d:vTPrest", inf_prot=inf_prot)


def _cte_os(inf: str, inf_prot: str | None = None) -> Fields:
    return _cte(inf, tomador=f"{inf}/d:toma", total=f"{inf}/d:vPrest/d:vTPrest", inf_prot=inf_prot)


def _gtve(inf: str, inf_prot: str | None = None) -> Fields:
    tomador = _tomador(inf, code="d:toma/d:toma", roles=_GTVE_TOMADOR_ROLES, in_full="d:tomaTerceiro")
    total = f"{inf}/d:detGTV/d:infEspecie/d:vEspecie"
    return _cte(inf, tomador=tomador, total=total, inf_prot=inf_prot)


def _mdfe(inf: str, inf_prot: str | None = None) -> Fields:
    fields: Fields = {
        "version": ("@versao", f"{inf}/@versao"),
        "access_key": f"substring-after({inf}/@Id, 'MDFe')",
        "model": f"{inf}/d:ide/d:mod",
        "series": f"{inf}/d:ide/d:serie",
        "number": f"{inf}/d:ide/d:nMDF",
        "issued_at": f"{inf}/d:ide/d:dhEmi",
        "issuer_doc": _doc(f"{inf}/d:emit"),
        "issuer_name": f"{inf}/d:emit/d:xNome",
        "total_value": f"{inf}/d:tot/d:vCarga",
    }
    return fields | _protocol(inf_prot, "chMDFe") if inf_prot else fields


def _sefaz_event(inf: str, *, key: str, description: str, inf_ret: str | None = None) -> Fields:
    """An NF-e, CT-e or MDF-e event: ``inf`` is its infEvento, ``inf_ret`` the answer's."""
    own_description = f"{inf}/d:detEvento/{description}"
    fields: Fields = {
        "version": "@versao",
        "access_key": f"{inf}/d:{key}",
        "model": _key_part(f"{inf}/d:{key}", 21, 2),
        "event_type": f"{inf}/d:tpEvento",
        "event_description": (own_description, f"{inf_ret}/d:xEvento") if inf_ret else own_description,
        "event_seq": f"{inf}/d:nSeqEvento",
        "event_at": f"{inf}/d:dhEvento",
        "author_doc": _doc(inf),
    }
    return fields | _protocol(inf_ret, key) if inf_ret else fields


def _nfse_event(request: str, *, seq: str) -> Fields:
    """An NFS-e event: ``request`` is its infPedReg, whose detail element is named e + tpEvento."""
    detail = f"{request}/d:chNFSe/following-sibling::*[1]"
    return {
        "version": "@versao",
        "access_key": f"{request}/d:chNFSe",
        "event_type": f"substring(local-name({detail}), 2)",
        "event_description": f"{detail}/d:xDesc",
        "event_seq": seq,
        "event_at": f"{request}/d:dhEvento",
        "author_doc": _doc(request, "CNPJAutor", "CPFAutor"),
    }


def _nfse() -> Fields:
    inf = "d:infNFSe"
    dps = f"{inf}/d:DPS/d:infDPS"
    return {
        "version": "@versao",
        "access_key": f"substring-after({inf}/@Id, 'NFS')",
        "number": f"{inf}/d:nNFSe",
        "issued_at": f"{dps}/d:dhEmi",
        "issuer_doc": _doc(f"{inf}/d:emit"),
        "issuer_name": f"{inf}/d:emit/d:xNome",
        "recipient_doc": _doc(f"{dps}/d:toma", "CNPJ", "CPF", "NIF"),
        "recipient_name": f"{dps}/d:toma/d:xNome",
        "total_value": f"{dps}/d:valores/d:vServPrest/d:vServ",
        "status_code": f"{inf}/d:cStat",
    }


def _summary() -> Fields:
    return {
        "version": "@versao",
        "access_key": "d:chNFe",
        "model": _key_part("d:chNFe", 21, 2),
        "series": _key_part("d:chNFe", 23, 3),
        "number": _key_part("d:chNFe", 26, 9),
        "issued_at": "d:dhEmi",
        "issuer_doc": _doc("."),
        "issuer_name": "d:xNome",
        "total_value": "d:vNF",
        "status_code": "d:cSitNFe",
        "protocol": "d:nProt",
    }


def _event_summary() -> Fields:
    return {
        "version": "@versao",
        "access_key": "d:chNFe",
        "model": _key_part("d:chNFe", 21, 2),
        "event_type": "d:tpEvento",
        "event_description": "d:xEvento",
        "event_seq": "d:nSeqEvento",
        "event_at": "d:dhEvento",
        "author_doc": _doc("."),
        "protocol": "d:nProt",
    }


_NFE_DESCRIPTION = "d:descEvento"
_GROUPED_DESCRIPTION = "*/d:descEvento"  # CT-e and MDF-e wrap the detail in a group per event type

_ALL: Final = (
    # NF-e and NFC-e: what DistDFe hands out (procNFe, resNFe, procEventoNFe, resEvento) and the
    # bare document and event as issuers keep them.
    Layout(
        name="nfeProc",
        family=Family.NFE,
        kind=Kind.DOCUMENT,
        fields=_nfe("d:NFe/d:infNFe", inf_prot="d:protNFe/d:infProt"),
        models=_NFE_MODELS,
        statuses=_PROTOCOL_STATUSES,
    ),
    Layout(name="NFe", family=Family.NFE, kind=Kind.DOCUMENT, fields=_nfe("d:infNFe"), models=_NFE_MODELS),
    Layout(
        name="resNFe",
        family=Family.NFE,
        kind=Kind.SUMMARY,
        fields=_summary(),
        models=_NFE_MODELS,
        statuses=_SUMMARY_STATUSES,
    ),
    Layout(
        name="procEventoNFe",
        family=Family.NFE,
        kind=Kind.EVENT,
        fields=_sefaz_event(
            "d:evento/d:infEvento",
            key="chNFe",
            description=_NFE_DESCRIPTION,
            inf_ret="d:retEvento/d:infEvento",
        ),
        models=_NFE_MODELS,
        statuses=_EVENT_STATUSES,
    ),
    Layout(
        name="evento",
        family=Family.NFE,
        kind=Kind.EVENT,
        fields=_sefaz_event("d:infEvento", key="chNFe", description=_NFE_DESCRIPTION),
        models=_NFE_MODELS,
    ),
    Layout(
        name="resEvento",
        family=Family.NFE,
        kind=Kind.EVENT,
        fields=_event_summary(),
        models=_NFE_MODELS,
        fixed_status=Status.REGISTERED,  # a summary exists only for a registered event
    ),
    # CT-e, CT-e OS and GTV-e (CTeDistribuicaoDFe: procCTe, procCTeOS, procGTVe, procEventoCTe)
    Layout(
        name="cteProc",
        family=Family.CTE,
        kind=Kind.DOCUMENT,
        fields=_cte_normal("d:CTe/d:infCte", inf_prot="d:protCTe/d:infProt"),
        models=_CTE_MODELS,
        statuses=_PROTOCOL_STATUSES,
    ),
    Layout(
        name="CTe", family=Family.CTE, kind=Kind.DOCUMENT, fields=_cte_normal("d:infCte"), models=_CTE_MODELS
    ),
    Layout(
        name="cteOSProc",
        family=Family.CTE,
        kind=Kind.DOCUMENT,
        fields=_cte_os("d:CTeOS/d:infCte", inf_prot="d:protCTe/d:infProt"),
        models=_CTE_OS_MODELS,
        statuses=_PROTOCOL_STATUSES,
    ),
    Layout(
        name="CTeOS", family=Family.CTE, kind=Kind.DOCUMENT, fields=_cte_os("d:infCte"), models=_CTE_OS_MODELS
    ),
    Layout(
        name="GTVeProc",
        family=Family.CTE,
        kind=Kind.DOCUMENT,
        fields=_gtve("d:GTVe/d:infCte", inf_prot="d:protCTe/d:infProt"),
        models=_GTVE_MODELS,
        statuses=_PROTOCOL_STATUSES,
    ),
    Layout(name="GTVe", family=Family.CTE, kind=Kind.DOCUMENT, fields=_gtve("d:infCte"), models=_GTVE_MODELS),
    Layout(
        name="procEventoCTe",
        family=Family.CTE,
        kind=Kind.EVENT,
        fields=_sefaz_event(
            "d:eventoCTe/d:infEvento",
            key="chCTe",
            description=_GROUPED_DESCRIPTION,
            inf_ret="d:retEventoCTe/d:infEvento",
        ),
        models=_ANY_CTE_MODELS,
        statuses=_EVENT_STATUSES,
    ),
    Layout(
        name="eventoCTe",
        family=Family.CTE,
        kind=Kind.EVENT,
        fields=_sefaz_event("d:infEvento", key="chCTe", description=_GROUPED_DESCRIPTION),
        models=_ANY_CTE_MODELS,
    ),
    # MDF-e
    Layout(
        name="mdfeProc",
        family=Family.MDFE,
        kind=Kind.DOCUMENT,
        fields=_mdfe("d:MDFe/d:infMDFe", inf_prot="d:protMDFe/d:infProt"),
        models=_MDFE_MODELS,
        statuses=_PROTOCOL_STATUSES,
    ),
    Layout(
        name="MDFe", family=Family.MDFE, kind=Kind.DOCUMENT, fields=_mdfe("d:infMDFe"), models=_MDFE_MODELS
    ),
    Layout(
        name="procEventoMDFe",
        family=Family.MDFE,
        kind=Kind.EVENT,
        fields=_sefaz_event(
            "d:eventoMDFe/d:infEvento",
            key="chMDFe",
            description=_GROUPED_DESCRIPTION,
            inf_ret="d:retEventoMDFe/d:infEvento",
        ),
        models=_MDFE_MODELS,
        statuses=_EVENT_STATUSES,
    ),
    Layout(
        name="eventoMDFe",
        family=Family.MDFE,
        kind=Kind.EVENT,
        fields=_sefaz_event("d:infEvento", key="chMDFe", description=_GROUPED_DESCRIPTION),
        models=_MDFE_MODELS,
    ),
    # NFS-e Nacional (ADN): the NFS-e, a registered event, and a request to register one
    Layout(
        name="NFSe",
        family=Family.NFSE,
        kind=Kind.DOCUMENT,
        fields=_nfse(),
        models=_NFSE_MODELS,
        statuses=_NFSE_STATUSES,
    ),
    Layout(
        name="evento",
        family=Family.NFSE,
        kind=Kind.EVENT,
        fields=_nfse_event("d:infEvento/d:pedRegEvento/d:infPedReg", seq="d:infEvento/d:nSeqEvento"),
        models=_NFSE_MODELS,
        fixed_status=Status.REGISTERED,  # the ADN generates an evento only once it registered it
    ),
    Layout(
        name="pedRegEvento",
        family=Family.NFSE,
        kind=Kind.EVENT,
        # Its only sequence number ends its Id in layout 1.00 ("PRE" + key(50) + tpEvento(6) +
        # nPedRegEvento(3)); layout 1.01 dropped it, so a 1.01 request has no event_seq.
        fields=_nfse_event("d:infPedReg", seq="substring(d:infPedReg/@Id, 60)"),
        models=_NFSE_MODELS,
    ),
)

LAYOUTS: Final[Mapping[str, Layout]] = MappingProxyType({layout.tag: layout for layout in _ALL})
"""Every layout FiscalMix reads, by root element in Clark notation (``{namespace}name``)."""
