"""SOAP 1.1 and 1.2 as the SEFAZ .asmx services speak them: envelopes, actions, faults.

SOAP 1.1 arrives as ``text/xml`` with a ``SOAPAction`` header; SOAP 1.2 as ``application/soap+xml``
with the action as a content-type parameter (optional in 1.2, so a binding names a default). The
answer uses the request's version. Envelope-level problems get a SOAP Fault with HTTP 500, as
ASP.NET answers them; problems inside the message get a normal answer with a cStat (215...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from lxml import etree

from fiscal_core.errors import DocumentError
from fiscal_core.xmlsafe import parse_xml
from local.sefaz.payload import rerooted
from local.sefaz.wire import Request, Response


class SoapVersion(Enum):
    """A SOAP version: its envelope namespace, media type and fault codes (client, server)."""

    V1_1 = ("http://schemas.xmlsoap.org/soap/envelope/", "text/xml", ("soap:Client", "soap:Server"))
    V1_2 = (
        "http://www.w3.org/2003/05/soap-envelope",
        "application/soap+xml",
        ("soap:Sender", "soap:Receiver"),
    )

    def __init__(self, namespace: str, media_type: str, fault_codes: tuple[str, str]) -> None:
        self.namespace = namespace
        self.media_type = media_type
        self.fault_codes = fault_codes

    @property
    def content_type(self) -> str:
        """The Content-Type of an answer in this version."""
        return f"{self.media_type}; charset=utf-8"


_BY_MEDIA_TYPE: Final = {version.media_type: version for version in SoapVersion}


class SoapFault(Exception):
    """An envelope-level problem, answered with a SOAP Fault; ``client`` is False for server faults."""

    def __init__(self, reason: str, *, client: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.client = client


@dataclass(frozen=True)
class SoapBinding:
    """One .asmx operation: where the message sits in the Body and how each action is answered."""

    request_path: tuple[str, ...]  # Clark names from the Body's child down to the message holder
    responses: Mapping[str, tuple[str, ...]]  # accepted action -> wrapper elements of the answer
    default_action: str  # what a SOAP 1.2 request without an action parameter means


MessageHandler = Callable[[etree._Element | None, str | None], etree._Element]


def version_of(request: Request) -> SoapVersion:
    """The SOAP version a request's Content-Type names; SOAP 1.1 when it names neither."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return _BY_MEDIA_TYPE.get(media_type, SoapVersion.V1_1)


def serve(binding: SoapBinding, request: Request, handle: MessageHandler) -> Response:
    """Unwrap the message of ``request``, let ``handle`` answer it, wrap the answer in an envelope.

    ``handle`` receives the message (re-rooted; None when the holder is empty) and the client
    certificate's CNPJ, and returns the answer element (retDistDFeInt, retEnvEvento).
    """
    version = version_of(request)
    try:
        action = _action(request, version, binding)
        message = _message(request.body, version, binding)
    except SoapFault as fault:
        return fault_response(version, fault)
    return Response(
        200,
        version.content_type,
        envelope(version, binding.responses[action], handle(message, request.certificate_cnpj)),
    )


def envelope(version: SoapVersion, wrappers: tuple[str, ...], payload: etree._Element) -> bytes:
    """``payload`` inside ``wrappers`` inside Envelope/Body, serialized with an XML declaration."""
    root = etree.Element(f"{{{version.namespace}}}Envelope", nsmap={"soap": version.namespace})
    holder = etree.SubElement(root, f"{{{version.namespace}}}Body")
    for tag in wrappers:
        holder = etree.SubElement(holder, tag, nsmap={None: etree.QName(tag).namespace})  # type: ignore[dict-item]
    holder.append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def fault_response(version: SoapVersion, fault: SoapFault) -> Response:
    """A SOAP Fault in ``version``, with HTTP 500 as .asmx services send it."""
    ns = version.namespace
    code = version.fault_codes[0 if fault.client else 1]
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    body_fault = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version is SoapVersion.V1_1:
        etree.SubElement(body_fault, "faultcode").text = code
        etree.SubElement(body_fault, "faultstring").text = fault.reason
    else:
        etree.SubElement(etree.SubElement(body_fault, f"{{{ns}}}Code"), f"{{{ns}}}Value").text = code
        reason = etree.SubElement(etree.SubElement(body_fault, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        reason.text = fault.reason
        reason.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    return Response(500, version.content_type, etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _action(request: Request, version: SoapVersion, binding: SoapBinding) -> str:
    if version is SoapVersion.V1_1:
        if "soapaction" not in request.headers:
            raise SoapFault("Server did not recognize the value of HTTP Header SOAPAction: .")
        action = request.headers["soapaction"].strip().strip('"')
    else:
        action = (
            _content_type_parameter(request.headers.get("content-type", ""), "action")
            or binding.default_action
        )
    if action not in binding.responses:
        raise SoapFault(f"Server did not recognize the value of HTTP Header SOAPAction: {action}.")
    return action


def _content_type_parameter(content_type: str, name: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def _message(body: bytes, version: SoapVersion, binding: SoapBinding) -> etree._Element | None:
    try:
        root = parse_xml(body)
    except DocumentError as exc:
        raise SoapFault(f"Server was unable to read request. {exc}") from None
    ns = version.namespace
    if root.tag != f"{{{ns}}}Envelope":
        raise SoapFault(f"expected a SOAP {version.name} Envelope ({ns}), got {root.tag}")
    holder = root.find(f"{{{ns}}}Body")
    for tag in binding.request_path:
        holder = None if holder is None else holder.find(tag)
    if holder is None:
        raise SoapFault(f"Server did not recognize the operation: expected {'/'.join(binding.request_path)}")
    children = [child for child in holder if isinstance(child.tag, str)]
    return rerooted(children[0]) if len(children) == 1 else None
