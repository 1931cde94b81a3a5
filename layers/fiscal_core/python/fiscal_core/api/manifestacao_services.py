"""What the manifestação route works with: the client that sends a company's events to SEFAZ.

Built once per cold start by :func:`get_manifestacao_services`; the SEFAZ wiring (certificates,
endpoints, zeep) is imported and built on the first manifestação, as no other request needs it.
Tests hand the resolver their own instance through
``app.dependency_overrides[get_manifestacao_services]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from fiscal_core.api.problems import DependencyUnavailable
from fiscal_core.container import once_per_container

if TYPE_CHECKING:
    from fiscal_core.api.sync_services import SyncStarter
    from fiscal_core.bridge.status import AgentStatus
    from fiscal_core.settings import Settings
    from fiscal_core.storage.companies import CompanyRecord
    from fiscal_core.sync.event_lots import Manifestor


class ManifestacaoServices:
    """Hands out the client that sends a company's manifestações, signed with its A1, and the
    workflow starter whose NF-e run sends those an A3 company's agent must sign."""

    def __init__(
        self,
        manifestor: Callable[[CompanyRecord], Manifestor],
        starter: SyncStarter | None = None,
        presence: Callable[[str, str], AgentStatus] | None = None,
    ) -> None:
        self._manifestor = manifestor
        self._starter = starter
        self._presence = presence

    def manifestor(self, company: CompanyRecord) -> Manifestor:
        """RecepcaoEvento over the company's certificate; CredentialProblem if it has none usable.

        ThroughAgentOnly when the certificate is an A3: the caller queues the event instead.
        """
        return self._manifestor(company)

    def agent_status(self, account_id: str, company_id: str) -> AgentStatus | None:
        """Whether the company's A3 agent is online now (None: this deployment cannot tell)."""
        return self._presence(account_id, company_id) if self._presence is not None else None

    def starter(self) -> SyncStarter:
        """Starts the sync workflow; DependencyUnavailable (503) when none is configured."""
        if self._starter is None:
            raise DependencyUnavailable("this deployment cannot start the sync workflow")
        return self._starter


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

    from fiscal_core.api.sync_services import StepFunctionsStarter, sfn_client
    from fiscal_core.bridge.status import status_for_company

    return ManifestacaoServices(
        manifestor,
        StepFunctionsStarter(lambda: sfn_client(settings), settings.sync_state_machine_arn),
        status_for_company,
    )


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
