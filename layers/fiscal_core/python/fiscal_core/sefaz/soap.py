"""SOAP envelopes around a payload, and the payload out of an answer; no I/O.

The envelope is written around the payload's bytes, never re-serialized through a tree, so a signed
``envEvento`` leaves exactly as it was signed. Every element uses a default namespace (see
:mod:`fiscal_core.sefaz.wsdl` for why no prefixes).
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import quoteattr

from lxml import etree

from fiscal_core.sefaz.errors import HttpStatusError, MalformedResponse, SoapFault
from fiscal_core.sefaz.transport import HttpRequest, HttpResponse
from fiscal_core.sefaz.wsdl import SoapContract, SoapVersion
from fiscal_core.sefaz.xmlread import child, children, descendant, local_name, parse_answer

SOAP_NAMESPACES: Final = frozenset(
    {"http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"}
)


def soap_headers(contract: SoapContract) -> dict[str, str]:
    """HTTP headers for the contract: SOAP 1.2 carries the action in Content-Type, 1.1 in SOAPAction."""
    if contract.version is SoapVersion.SOAP12:
        return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{contract.action}"'}
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{contract.action}"'}


def _open_tag(clark: str) -> tuple[bytes, bytes]:
    name = etree.QName(clark)
    return (
        f"<{name.localname} xmlns={quoteattr(name.namespace or '')}>".encode(),
        f"</{name.localname}>".encode(),
    )


def envelope(contract: SoapContract, payload: bytes) -> bytes:
    """The SOAP envelope of ``contract`` around ``payload`` (UTF-8 XML without declaration)."""
    tags = [_open_tag(f"{{{contract.envelope_namespace}}}{name}") for name in ("Envelope", "Body")]
    tags += [_open_tag(clark) for clark in contract.wrapper]
    opening = b"".join(start for start, _ in tags)
    closing = b"".join(end for _, end in reversed(tags))
    return b'<?xml version="1.0" encoding="utf-8"?>' + opening + payload + closing


def soap_request(url: str, contract: SoapContract, payload: bytes) -> HttpRequest:
    """A POST of ``payload`` in the contract's envelope, ready for a transport."""
    return HttpRequest(
        method="POST", url=url, headers=soap_headers(contract), body=envelope(contract, payload)
    )


def read_payload(response: HttpResponse, payload_name: str, url: str) -> etree._Element:
    """The element ``payload_name`` in the answer's Body, wherever the wrapper puts it.

    Raises SoapFault for a Fault (whatever the HTTP status), HttpStatusError for any other non-200
    answer (5xx retryable), MalformedResponse when a 200 answer is not an envelope holding it.
    """
    root = _envelope_or_none(response)
    body = None if root is None else child(root, "Body")
    fault = None if body is None else child(body, "Fault")
    if fault is not None:
        raise _fault(fault)
    if response.status != 200:
        raise HttpStatusError(url, response.status, _snippet(response.body))
    if root is None or body is None:
        raise MalformedResponse(f"{url}: the answer is not a SOAP envelope: {_snippet(response.body)}")
    payload = descendant(body, payload_name)
    if payload is None:
        found = ", ".join(local_name(node) for node in body.iter() if isinstance(node.tag, str))
        raise MalformedResponse(f"{url}: the SOAP body holds no {payload_name} (found: {found})")
    return payload


def _envelope_or_none(response: HttpResponse) -> etree._Element | None:
    """The parsed envelope; None for an error page, MalformedResponse for a broken 200 answer."""
    try:
        root = parse_answer(response.body, "SOAP answer")
    except MalformedResponse:
        if response.status == 200:
            raise
        return None  # an HTML error page from a proxy: the status says more than the body
    if local_name(root) != "Envelope" or etree.QName(root).namespace not in SOAP_NAMESPACES:
        return None
    return root


def _fault(fault: etree._Element) -> SoapFault:
    # SOAP 1.1: faultcode/faultstring; SOAP 1.2: Code/Value and Reason/Text.
    code = (fault.findtext("faultcode") or "").strip()
    reason = (fault.findtext("faultstring") or "").strip()
    code_element = child(fault, "Code")
    if code_element is not None:
        values = [(v.text or "").strip() for v in children(code_element, "Value")]
        subcode = child(code_element, "Subcode")
        if subcode is not None:
            values += [(v.text or "").strip() for v in children(subcode, "Value")]
        code = " / ".join(value for value in values if value)
    reason_element = child(fault, "Reason")
    if reason_element is not None:
        reason = " ".join((t.text or "").strip() for t in children(reason_element, "Text"))
    return SoapFault(code or "unknown", reason or "no reason given")


def _snippet(body: bytes, size: int = 300) -> str:
    text = body[:size].decode("utf-8", "replace")
    return " ".join(text.split()) + ("…" if len(body) > size else "")
