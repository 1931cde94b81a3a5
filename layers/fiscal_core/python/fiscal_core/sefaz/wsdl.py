"""The SOAP contract of each operation, read by zeep from the vendored WSDLs once per process.

zeep reads the WSDL (binding, SOAP version, SOAPAction, body wrapper elements) and builds, with
``create_message``, the envelope it would send around a marker element. From that envelope we keep
the *shape*: the SOAP namespace, the action and the wrapper path down to the marker.
:mod:`fiscal_core.sefaz.soap` then writes the envelope itself, with default namespaces only.

Why not send zeep's envelope as is: zeep declares ``soap-env:`` and ``ns0:`` prefixes on the
ancestors of the payload. Those declarations are in scope for a signed ``infEvento``, and inclusive
C14N (the one SEFAZ fixes) renders in-scope namespaces, so a verifier that canonicalizes the
element where it stands, or extracts it with lxml, digests different bytes and calls the signature
invalid. With default namespaces on every wrapper, the payload's canonical form is the same inside
the envelope and out. The answer is read by our own parser for the same reason the AN needs it:
the result wrapper differs between WSDL variants (``nfeResultMsg``/``nfeRecepcaoEventoNFResult``).

zeep never touches the network here: its transport loads files from the vendored directory only
and refuses to send, and its parser settings forbid DTDs, entities and external references.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from lxml import etree

from fiscal_core.errors import FiscalMixError

if TYPE_CHECKING:
    from zeep import Client

WSDL_DIR: Final = Path(str(files("fiscal_core.sefaz") / "wsdl"))
_MARKER: Final = "{urn:fiscalmix:marker}payload"


class WsdlError(FiscalMixError):
    """A vendored WSDL cannot be read or lacks the binding asked for: a packaging bug."""


class SoapVersion(Enum):
    """The SOAP version of a binding: the AN serves both; FiscalMix defaults to 1.2."""

    SOAP11 = "1.1"
    SOAP12 = "1.2"


@dataclass(frozen=True)
class WsdlOperation:
    """An operation of a vendored WSDL: file, service, the port per SOAP version, and its name."""

    file: str
    service: str
    ports: tuple[tuple[SoapVersion, str], ...]
    operation: str

    def port(self, version: SoapVersion) -> str:
        """The port (binding) name for ``version``; WsdlError when the WSDL has none."""
        for candidate, name in self.ports:
            if candidate is version:
                return name
        raise WsdlError(f"{self.file} declares no SOAP {version.value} binding for {self.operation}")


NFE_DIST_DFE: Final = WsdlOperation(
    file="NFeDistribuicaoDFe.wsdl",
    service="NFeDistribuicaoDFe",
    ports=((SoapVersion.SOAP12, "NFeDistribuicaoDFeSoap12"), (SoapVersion.SOAP11, "NFeDistribuicaoDFeSoap")),
    operation="nfeDistDFeInteresse",
)
CTE_DIST_DFE: Final = WsdlOperation(
    file="CTeDistribuicaoDFe.wsdl",
    service="CTeDistribuicaoDFe",
    ports=((SoapVersion.SOAP12, "CTeDistribuicaoDFeSoap12"),),
    operation="cteDistDFeInteresse",
)
NFE_RECEPCAO_EVENTO: Final = WsdlOperation(
    file="NFeRecepcaoEvento4.wsdl",
    service="NFeRecepcaoEvento4",
    ports=((SoapVersion.SOAP12, "NFeRecepcaoEvento4Soap12"), (SoapVersion.SOAP11, "NFeRecepcaoEvento4Soap")),
    operation="nfeRecepcaoEventoNF",
)


@dataclass(frozen=True)
class SoapContract:
    """What an envelope for one operation looks like: namespace, action and body wrapper path.

    ``wrapper`` lists the Clark names from the Body's child down to the element that holds the
    payload (``nfeDistDFeInteresse``, ``nfeDadosMsg``), or just ``nfeDadosMsg`` for a bare body.
    """

    version: SoapVersion
    envelope_namespace: str
    action: str
    wrapper: tuple[str, ...]


@functools.cache
def _client(file: str) -> Client:
    # Imported on first SOAP use: zeep, with requests, takes about 0.1 s to import.
    from zeep import Client, Settings

    settings = Settings(
        strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        # zeep's annotations are partial; its constructor and create_message are unannotated.
        return Client(str(WSDL_DIR / file), transport=_local_files_only(), settings=settings)  # type: ignore[no-untyped-call]
    except Exception as exc:  # zeep raises many unrelated types for a broken WSDL
        raise WsdlError(f"the vendored WSDL {file} cannot be read: {exc}") from exc


def _local_files_only() -> Any:
    from zeep.transports import Transport

    class LocalFilesOnly(Transport):
        """Loads documents from the vendored directory only; sends nothing."""

        def load(self, url: str) -> bytes:
            parts = urlsplit(url)
            path = Path(parts.path if parts.scheme == "file" else url).resolve()
            if parts.scheme not in ("", "file") or not path.is_relative_to(WSDL_DIR.resolve()):
                raise WsdlError(f"refused to load {url!r}: only the vendored WSDL directory is read")
            return path.read_bytes()

        def post(self, address: str, message: bytes, headers: dict[str, str]) -> None:
            raise WsdlError(f"zeep must not send: {address} is reached through fiscal_core.sefaz.transport")

        def get(self, address: str, params: dict[str, str], headers: dict[str, str]) -> None:
            raise WsdlError(f"zeep must not fetch {address}")

    return LocalFilesOnly(cache=None)  # type: ignore[no-untyped-call]


def _marker_arguments(element_type: Any) -> dict[str, Any]:
    """create_message keyword arguments that put the marker in the type's ``xs:any`` slot."""
    from zeep.xsd import Any as AnyElement

    (name, inner), *others = element_type.elements
    if others:
        raise WsdlError(f"expected one child in {element_type.name}, found {len(others) + 1}")
    if isinstance(inner, AnyElement):
        return {name: etree.Element(_MARKER)}
    return {name: _marker_arguments(inner.type)}


@functools.cache
def soap_contract(operation: WsdlOperation, version: SoapVersion) -> SoapContract:
    """The contract of ``operation`` over SOAP ``version``, read from the WSDL once per process."""
    client = _client(operation.file)
    proxy = client.bind(operation.service, operation.port(version))
    binding_operation = proxy._binding.get(operation.operation)
    envelope = client.create_message(  # type: ignore[no-untyped-call]
        proxy, operation.operation, **_marker_arguments(binding_operation.input.body.type)
    )
    namespace = etree.QName(envelope).namespace or ""
    wrapper: list[str] = []
    for node in next(envelope.iter(_MARKER)).iterancestors():
        if node.tag == f"{{{namespace}}}Body":
            break
        wrapper.insert(0, str(node.tag))
    return SoapContract(
        version=version,
        envelope_namespace=namespace,
        action=str(binding_operation.soapaction),
        wrapper=tuple(wrapper),
    )
