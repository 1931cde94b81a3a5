"""What ``fiscalmix inspect`` must print for a sample, worked out without fiscal_core.documents.

Values are looked up by local name anywhere below the root, ignoring namespaces, and the rules
(which party is the recipient, which value is the total) are written out again here, so a wrong
XPath in the catalog cannot also be wrong in the expectation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from lxml import etree

INSPECT_KEYS = (
    "file",
    "error",
    "doc_type",
    "kind",
    "schema",
    "access_key",
    "model",
    "series",
    "number",
    "issued_at",
    "issuer_doc",
    "issuer_name",
    "recipient_doc",
    "recipient_name",
    "total_value",
    "status",
    "protocol",
    "event_type",
    "event_seq",
    "event_at",
    "author_doc",
)
CTE_TOMADOR = {"0": "rem", "1": "exped", "2": "receb", "3": "dest"}
EVENT_DOC_TYPES = {
    "chNFe": {"55": "NFE", "65": "NFCE"},
    "chCTe": {"57": "CTE", "67": "CTE", "64": "CTE"},
    "chMDFe": {"58": "MDFE"},
}

Expectation = dict[str, object]


def elements(root: etree._Element, path: str) -> list[etree._Element]:
    """The elements at ``path`` (local names joined by /) anywhere below root, in document order."""
    steps = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
    found = root.xpath(f"//{steps}")
    assert isinstance(found, list)
    return [node for node in found if isinstance(node, etree._Element)]


def text(root: etree._Element, path: str) -> str | None:
    """The first non-blank text at ``path``."""
    for node in elements(root, path):
        if node.text and node.text.strip():
            return node.text.strip()
    return None


def any_text(root: etree._Element, *paths: str) -> str | None:
    return next((found for path in paths if (found := text(root, path)) is not None), None)


def _when(value: str | None, convert: Callable[[str], object]) -> object:
    return None if value is None else convert(value)


def _iso(value: str | None) -> object:
    return _when(value, lambda v: datetime.fromisoformat(v).isoformat())


def _amount(value: str | None) -> object:
    return _when(value, lambda v: str(Decimal(v)))


def _number(value: str | None) -> object:
    return _when(value, int)


def _id(root: etree._Element, element: str) -> str:
    return str(elements(root, element)[0].get("Id"))


def _version(root: etree._Element, inner: str) -> str:
    versao = root.get("versao") or elements(root, inner)[0].get("versao")
    return f"{etree.QName(root).localname} {versao}"


def _nfe(root: etree._Element) -> Expectation:
    ident = _id(root, "infNFe")
    model = text(root, "ide/mod")
    return {
        "doc_type": {"55": "NFE", "65": "NFCE"}[str(model)],
        "kind": "document",
        "schema": _version(root, "infNFe"),
        "access_key": ident.removeprefix("NFe"),
        "model": _number(model),
        "series": _number(text(root, "ide/serie")),
        "number": _number(text(root, "ide/nNF")),
        "issued_at": _iso(text(root, "ide/dhEmi")),
        "issuer_doc": any_text(root, "emit/CNPJ", "emit/CPF"),
        "issuer_name": text(root, "emit/xNome"),
        "recipient_doc": any_text(root, "dest/CNPJ", "dest/CPF", "dest/idEstrangeiro"),
        "recipient_name": text(root, "dest/xNome"),
        "total_value": _amount(text(root, "ICMSTot/vNF")),
        "status": {"100": "authorized", None: None}[text(root, "protNFe/infProt/cStat")],
        "protocol": text(root, "protNFe/infProt/nProt"),
    }


def _cte(root: etree._Element) -> Expectation:
    if etree.QName(root).localname == "CTeOS":
        tomador = "toma"
    else:
        code = text(root, "toma3/toma")
        tomador = CTE_TOMADOR[code] if code else "toma4"
    model = text(root, "ide/mod")
    return {
        "doc_type": "CTE",
        "kind": "document",
        "schema": _version(root, "infCte"),
        "access_key": _id(root, "infCte").removeprefix("CTe"),
        "model": _number(model),
        "series": _number(text(root, "ide/serie")),
        "number": _number(text(root, "ide/nCT")),
        "issued_at": _iso(text(root, "ide/dhEmi")),
        "issuer_doc": any_text(root, "emit/CNPJ", "emit/CPF"),
        "issuer_name": text(root, "emit/xNome"),
        "recipient_doc": any_text(root, f"{tomador}/CNPJ", f"{tomador}/CPF"),
        "recipient_name": text(root, f"{tomador}/xNome"),
        "total_value": _amount(text(root, "vPrest/vTPrest")),
    }


def _mdfe(root: etree._Element) -> Expectation:
    return {
        "doc_type": "MDFE",
        "kind": "document",
        "schema": _version(root, "infMDFe"),
        "access_key": _id(root, "infMDFe").removeprefix("MDFe"),
        "model": _number(text(root, "ide/mod")),
        "series": _number(text(root, "ide/serie")),
        "number": _number(text(root, "ide/nMDF")),
        "issued_at": _iso(text(root, "ide/dhEmi")),
        "issuer_doc": any_text(root, "emit/CNPJ", "emit/CPF"),
        "issuer_name": text(root, "emit/xNome"),
        "total_value": _amount(text(root, "tot/vCarga")),
    }


def _sefaz_event(root: etree._Element) -> Expectation | str:
    key_element = next(name for name in EVENT_DOC_TYPES if text(root, f"infEvento/{name}"))
    key = str(text(root, f"infEvento/{key_element}"))
    model = key[20:22]
    doc_type = EVENT_DOC_TYPES[key_element].get(model)
    if doc_type is None:
        return f"model {model}"  # the key names a document this family's event cannot concern
    return {
        "doc_type": doc_type,
        "kind": "event",
        "schema": f"{etree.QName(root).localname} {root.get('versao')}",
        "access_key": key,
        "model": int(model),
        "event_type": text(root, "infEvento/tpEvento"),
        "event_seq": _number(text(root, "infEvento/nSeqEvento")),
        "event_at": _iso(text(root, "infEvento/dhEvento")),
        "author_doc": any_text(root, "infEvento/CNPJ", "infEvento/CPF"),
    }


def _nfse(root: etree._Element) -> Expectation:
    return {
        "doc_type": "NFSE",
        "kind": "document",
        "schema": f"NFSe {root.get('versao')}",
        "access_key": _id(root, "infNFSe").removeprefix("NFS"),
        "number": _number(text(root, "infNFSe/nNFSe")),
        "issued_at": _iso(text(root, "infDPS/dhEmi")),
        "issuer_doc": any_text(root, "infNFSe/emit/CNPJ", "infNFSe/emit/CPF"),
        "issuer_name": text(root, "infNFSe/emit/xNome"),
        "recipient_doc": any_text(root, "infDPS/toma/CNPJ", "infDPS/toma/CPF", "infDPS/toma/NIF"),
        "recipient_name": text(root, "infDPS/toma/xNome"),
        "total_value": _amount(text(root, "vServPrest/vServ")),
        "status": {"100": "authorized"}[str(text(root, "infNFSe/cStat"))],
    }


def _nfse_request(root: etree._Element) -> Expectation:
    request = elements(root, "infPedReg")[0]
    detail = next(child for child in request if re.fullmatch(r"e[0-9]{6}", etree.QName(child).localname))
    ident = str(request.get("Id"))
    return {
        "doc_type": "NFSE",
        "kind": "event",
        "schema": f"pedRegEvento {root.get('versao')}",
        "access_key": text(root, "infPedReg/chNFSe"),
        "event_type": etree.QName(detail).localname[1:],
        "event_seq": int(ident[-3:]) if len(ident) == 62 else None,  # layout 1.00 ends Id with it
        "event_at": _iso(text(root, "infPedReg/dhEvento")),
        "author_doc": any_text(root, "infPedReg/CNPJAutor", "infPedReg/CPFAutor"),
    }


_BY_ROOT: dict[str, Callable[[etree._Element], Expectation | str]] = {
    "nfeProc": _nfe,
    "NFe": _nfe,
    "CTe": _cte,
    "CTeOS": _cte,
    "MDFe": _mdfe,
    "evento": _sefaz_event,
    "eventoCTe": _sefaz_event,
    "eventoMDFe": _sefaz_event,
    "NFSe": _nfse,
    "pedRegEvento": _nfse_request,
}


def expected_inspection(data: bytes) -> Expectation | str:
    """The full inspect record (without ``file``) for a sample, or text its error must contain."""
    root = etree.fromstring(data)
    expect = _BY_ROOT.get(etree.QName(root).localname)
    if expect is None:
        return "unsupported document"
    found = expect(root)
    if isinstance(found, str):
        return found
    return dict.fromkeys(INSPECT_KEYS[2:]) | {"error": None} | found
