"""What makes a readable fiscal XML importable for a company: it must be the company's own.

A document must be authorized (it carries SEFAZ's protocol) and issued by the company; an event
must be registered (its protocol) by the company, on a document the company issued (its
cancellation or CC-e). The access key must be valid (check digit) and name the same issuer, so
a document cannot claim to be the company's by its ``emit`` alone.
"""

from __future__ import annotations

from fiscal_core.documents import DocumentMetadata, Kind
from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import parse_access_key, parse_nfse_key


def refusal(meta: DocumentMetadata, cnpj: str) -> str | None:
    """Why ``meta`` is not imported for the company with ``cnpj``, or None when it is."""
    if meta.kind is Kind.SUMMARY:
        return "a summary (resNFe), not the document: import the full XML with its protocol"
    if meta.status is None:
        signed = "procEvento" if meta.kind is Kind.EVENT else "procNFe, procCTe"
        return f"no protocol from SEFAZ: import the XML SEFAZ returned with its protocol ({signed})"
    if meta.kind is Kind.EVENT and meta.author_doc != cnpj:
        return f"an event registered by {meta.author_doc}, not by this company ({cnpj})"
    if meta.kind is Kind.DOCUMENT and meta.issuer_doc != cnpj:
        return f"not issued by this company (issuer {meta.issuer_doc}, the company is {cnpj})"
    return _key_refusal(meta.access_key, cnpj, meta.kind)


def _key_refusal(access_key: str, cnpj: str, kind: Kind) -> str | None:
    try:
        key = parse_nfse_key(access_key) if len(access_key) == 50 else parse_access_key(access_key)
    except InvalidValue as exc:
        return f"invalid access key: {exc.problem}"
    if key.issuer_doc == cnpj:
        return None
    if kind is Kind.EVENT:
        return f"an event on a document this company did not issue (issuer {key.issuer_doc})"
    return f"the access key names issuer {key.issuer_doc}, not the document's issuer {cnpj}"
