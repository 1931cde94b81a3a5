"""What the manifestação route works with: the client that sends a company's events to SEFAZ.

Built once per cold start by :func:`get_manifestacao_services`; the SEFAZ wiring (certificates,
endpoints, zeep) is imported and built on the first manifestação, as no other request needs it.
Tests hand the resolver their own instance through
``app.dependency_overrides[get_manifestacao_services]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from fiscal_core.api.problems import DependencyUnavailable
from fiscal_core.container import once_per_container

if TYPE_CHECKING:
    from fiscal_core.sefaz.evento import ManifestacaoEvent
    from fiscal_core.sefaz.evento_result import EventLotResult
    from fiscal_core.settings import Settings
    from fiscal_core.storage.companies import CompanyRecord


class Manifestor(Protocol):
    """Sends a lot of manifestações (RecepcaoEventoClient in production)."""

    def manifestar(self, cnpj: str, events: Sequence[ManifestacaoEvent]) -> EventLotResult:
        """Register up to 20 events of the recipient ``cnpj``."""
        ...


class ManifestacaoServices:
    """Hands out the client that sends a company's manifestações, signed with its A1."""

    def __init__(self, manifestor: Callable[[CompanyRecord], Manifestor]) -> None:
        self._manifestor = manifestor

    def manifestor(self, company: CompanyRecord) -> Manifestor:
        """RecepcaoEvento over the company's certificate; CredentialProblem if it has none usable."""
        return self._manifestor(company)


@once_per_container
def get_manifestacao_services() -> ManifestacaoServices:
    """The process's manifestação services; the SEFAZ wiring is built on the first manifestação."""
    from fiscal_core.settings import get_settings

    settings = get_settings()
    built: list[Callable[[CompanyRecord], Manifestor]] = []

    def manifestor(company: CompanyRecord) -> Manifestor:
        if not built:
            built.append(_sefaz_wiring(settings))
        return built[0](company)

    return ManifestacaoServices(manifestor)


def _sefaz_wiring(settings: Settings) -> Callable[[CompanyRecord], Manifestor]:
    """Certificates and endpoints as the sync worker uses them (imported late: a heavy import)."""
    import boto3

    from fiscal_core.crypto.envelope import EnvelopeCipher
    from fiscal_core.settings import ENV_SEFAZ_CA_FILE
    from fiscal_core.storage.attributes import utc_now
    from fiscal_core.storage.certificates import CertificateRepository
    from fiscal_core.sync.credentials import CredentialsProvider
    from fiscal_core.sync.runtime import sefaz_environment, tls_settings
    from fiscal_core.sync.services import SefazServices

    try:
        environment, tls = sefaz_environment(settings), tls_settings(settings)
    except ValueError as exc:  # the function lacks the SEFAZ settings: a deployment error
        raise DependencyUnavailable(str(exc)) from exc
    if tls.ca_file and not os.path.isfile(tls.ca_file):  # the layer was deployed without the bundle
        raise DependencyUnavailable(f"the SEFAZ CA bundle {tls.ca_file} ({ENV_SEFAZ_CA_FILE}) is missing")
    kms = boto3.client("kms", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    credentials = CredentialsProvider(
        CertificateRepository(), EnvelopeCipher(kms, settings.kms_key_id), tls, clock=utc_now
    )
    sefaz = SefazServices(environment, utc_now)
    return lambda company: sefaz.manifestor(company, credentials.for_company(company))
