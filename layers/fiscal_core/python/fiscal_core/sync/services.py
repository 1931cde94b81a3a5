"""The production SEFAZ/ADN clients of a company, built over its certificate's TLS transport.

Clients are cheap to build (the WSDL contracts are parsed once per cold start), so a fresh set is
made for each step over the cached transport.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from fiscal_core.sefaz.clients import AdnClient, DistDFeClient, RecepcaoEventoClient
from fiscal_core.sefaz.distdfe import DistFamily
from fiscal_core.sefaz.environments import Environment
from fiscal_core.sefaz.retry import DEFAULT_RETRY, RetryPolicy
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.records import Family
from fiscal_core.sync.credentials import Credentials
from fiscal_core.sync.sources import AdnSource, DistDFeSource, DistributionSource

# A single query resent by the client would cost a second unit of SEFAZ's hourly 20 behind the
# budget's back; it is made once, and a failure waits for the next run.
SINGLE_ATTEMPT: Final = RetryPolicy(attempts=1)
_DIST_FAMILIES: Final = {Family.NFE: DistFamily.NFE, Family.CTE: DistFamily.CTE}


class SefazServices:
    """Hands out the clients of :class:`~fiscal_core.sync.deps.Services` for one environment."""

    def __init__(self, environment: Environment, clock: Callable[[], datetime]) -> None:
        self._environment = environment
        self._clock = clock

    def pages(self, family: Family, company: CompanyRecord, credentials: Credentials) -> DistributionSource:
        """distNSU of NF-e or CT-e (cUFAutor is the company's UF), or the ADN for NFS-e."""
        if family is Family.NFSE:
            return AdnSource(AdnClient(credentials.transport, self._environment), self._clock)
        return self._dist(_DIST_FAMILIES[family], company, credentials)

    def single_queries(self, company: CompanyRecord, credentials: Credentials) -> DistDFeSource:
        """consChNFe / consNSU of the NF-e distribution."""
        return self._dist(DistFamily.NFE, company, credentials)

    def manifestor(self, company: CompanyRecord, credentials: Credentials) -> RecepcaoEventoClient:
        """RecepcaoEvento, signing with the company's key; dhEvento from the sync's clock."""
        return RecepcaoEventoClient(
            credentials.transport,
            self._environment,
            credentials.signer,
            clock=credentials.signing_clock or self._clock,
        )

    def _dist(self, family: DistFamily, company: CompanyRecord, credentials: Credentials) -> DistDFeSource:
        def client(retry: RetryPolicy) -> DistDFeClient:
            return DistDFeClient(
                credentials.transport, self._environment, family=family, cuf_autor=company.uf, retry=retry
            )

        return DistDFeSource(client(DEFAULT_RETRY), client(SINGLE_ATTEMPT), self._clock)
