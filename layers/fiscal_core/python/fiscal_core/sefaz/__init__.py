"""Clients of SEFAZ (NF-e/CT-e DistribuicaoDFe, NFeRecepcaoEvento4) and of the national ADN (NFS-e).

Layers, each replaceable on its own:

- exchanges, pure: ``distdfe``, ``evento``/``evento_result``, ``adn`` build requests (checked against
  the official schemas) and read answers into typed results whose cStat is classified by ``cstat``;
- SOAP: ``wsdl`` reads each operation's contract from the vendored WSDLs with zeep, ``soap`` writes
  envelopes and unwraps answers;
- transport: ``transport.Transport`` moves bytes; ``HttpsTransport`` does mutual TLS with the key in
  memory (``tls``); ``retry`` retries what may succeed later;
- facades: ``clients``.
"""

from fiscal_core.sefaz.adn import AdnDocument, AdnResult
from fiscal_core.sefaz.clients import AdnClient, DistDFeClient, RecepcaoEventoClient
from fiscal_core.sefaz.cstat import Category, Outcome, RetryClass
from fiscal_core.sefaz.distdfe import DistDFeResult, DistDocument, DistFamily, DistQuery
from fiscal_core.sefaz.environments import (
    HOMOLOGATION,
    PRODUCTION,
    Environment,
    Service,
    TpAmb,
    local_environment,
)
from fiscal_core.sefaz.errors import (
    ConnectionFailed,
    HttpStatusError,
    MalformedResponse,
    RequestRejectedLocally,
    SefazError,
    SoapFault,
    Timeout,
    TlsFailure,
    TransportError,
)
from fiscal_core.sefaz.evento import Manifestacao, ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.sefaz.retry import RetryPolicy
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings
from fiscal_core.sefaz.transport import HttpRequest, HttpResponse, HttpsTransport, Timeouts, Transport
from fiscal_core.sefaz.wsdl import SoapVersion

__all__ = [
    "HOMOLOGATION",
    "PRODUCTION",
    "AdnClient",
    "AdnDocument",
    "AdnResult",
    "Category",
    "ClientIdentity",
    "ConnectionFailed",
    "DistDFeClient",
    "DistDFeResult",
    "DistDocument",
    "DistFamily",
    "DistQuery",
    "Environment",
    "EventLotResult",
    "EventResult",
    "HttpRequest",
    "HttpResponse",
    "HttpStatusError",
    "HttpsTransport",
    "MalformedResponse",
    "Manifestacao",
    "ManifestacaoEvent",
    "Outcome",
    "RecepcaoEventoClient",
    "RequestRejectedLocally",
    "RetryClass",
    "RetryPolicy",
    "SefazError",
    "Service",
    "SoapFault",
    "SoapVersion",
    "Timeout",
    "Timeouts",
    "TlsFailure",
    "TlsSettings",
    "TpAmb",
    "Transport",
    "TransportError",
    "local_environment",
]
