"""The clients the sync workflow calls: DistDFe (NF-e, CT-e), RecepcaoEvento and the ADN.

Each call is ``prepare`` (pure: the HttpRequest), a transport, and ``read`` (pure: the typed result),
inside the one retry loop. ``prepare`` and ``read`` are public so the A3 agent path can carry the
request to the token's machine and bring the response back, with the same code on both ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.adn import AdnResult, build_adn_request, parse_adn_response
from fiscal_core.sefaz.distdfe import (
    LAYOUTS,
    DistDFeResult,
    DistFamily,
    DistQuery,
    build_dist_dfe,
    parse_ret_dist_dfe,
)
from fiscal_core.sefaz.environments import Environment, Service, TpAmb
from fiscal_core.sefaz.errors import MalformedResponse
from fiscal_core.sefaz.evento import ManifestacaoEvent, SignedLot, build_env_evento
from fiscal_core.sefaz.evento_result import EventLotResult, parse_ret_env_evento
from fiscal_core.sefaz.retry import DEFAULT_RETRY, RetryPolicy, with_retries
from fiscal_core.sefaz.soap import read_payload, soap_request
from fiscal_core.sefaz.transport import HttpRequest, HttpResponse, Transport, send
from fiscal_core.sefaz.wsdl import NFE_RECEPCAO_EVENTO, SoapVersion, soap_contract
from fiscal_core.signing import Signer

# What the ADN writes in TipoAmbiente for each tpAmb.
_ADN_AMBIENTE: Final = {TpAmb.PRODUCTION: "PRODUCAO", TpAmb.HOMOLOGATION: "HOMOLOGACAO"}


def _same_environment(environment: Environment, answered: str, url: str) -> None:
    """Refuse an answer from another environment: homologação documents must never pass for real ones."""
    expected = {environment.tp_amb.value, _ADN_AMBIENTE[environment.tp_amb]}
    if answered not in expected:
        raise MalformedResponse(
            f"{url} answered for environment {answered!r} while {environment.name} was asked; refused"
        )


class DistDFeClient:
    """DistribuicaoDFe of one family (NF-e or CT-e) in one environment.

    ``cuf_autor`` is the IBGE code or abbreviation of the interested party's UF (required for CT-e).
    SOAP 1.2 by default, as sped-nfe; ``soap_version=SoapVersion.SOAP11`` switches NF-e to 1.1.
    """

    def __init__(
        self,
        transport: Transport,
        environment: Environment,
        *,
        family: DistFamily = DistFamily.NFE,
        cuf_autor: str | None = None,
        soap_version: SoapVersion = SoapVersion.SOAP12,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        layout = LAYOUTS[family]
        if layout.cuf_autor_required and not cuf_autor:
            raise InvalidValue("cuf_autor", f"{family.value.upper()} distribution requires the author's UF")
        self._transport = transport
        self._environment = environment
        self._family = family
        self._cuf_autor = cuf_autor
        self._contract = soap_contract(layout.operation, soap_version)
        self._url = environment.url(layout.service)
        self._retry = retry
        self._sleep = sleep

    def dist_nsu(self, cnpj: str, ult_nsu: int | str) -> DistDFeResult:
        """The next page (up to 50 documents) after ``ult_nsu``, the ultNSU SEFAZ last returned."""
        return self._call(cnpj, DistQuery.dist_nsu(ult_nsu))

    def cons_nsu(self, cnpj: str, nsu: int | str) -> DistDFeResult:
        """The one document at ``nsu``; SEFAZ allows 20 of these an hour per CNPJ."""
        return self._call(cnpj, DistQuery.cons_nsu(nsu))

    def cons_chave(self, cnpj: str, chave: str) -> DistDFeResult:
        """The NF-e with access key ``chave`` (NF-e only); SEFAZ allows 20 of these an hour per CNPJ."""
        return self._call(cnpj, DistQuery.cons_chave(chave))

    def prepare(self, cnpj: str, query: DistQuery) -> HttpRequest:
        """The SOAP request for ``query`` on behalf of ``cnpj`` (or a person's CPF)."""
        payload = build_dist_dfe(self._family, self._environment.tp_amb, cnpj, query, self._cuf_autor)
        return soap_request(self._url, self._contract, payload)

    def read(self, query: DistQuery, response: HttpResponse) -> DistDFeResult:
        """The result of ``query`` from the raw HTTP response."""
        payload = read_payload(response, "retDistDFeInt", self._url)
        result = parse_ret_dist_dfe(payload, self._family, query.kind)
        if result.outcome.ok:
            _same_environment(self._environment, result.tp_amb, self._url)
        return result

    def _call(self, cnpj: str, query: DistQuery) -> DistDFeResult:
        request = self.prepare(cnpj, query)
        return with_retries(
            lambda: self.read(query, send(self._transport, request)), self._retry, sleep=self._sleep
        )


class RecepcaoEventoClient:
    """Manifestação do destinatário at the Ambiente Nacional, signed by ``signer``."""

    def __init__(
        self,
        transport: Transport,
        environment: Environment,
        signer: Signer,
        *,
        soap_version: SoapVersion = SoapVersion.SOAP12,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._environment = environment
        self._signer = signer
        self._contract = soap_contract(NFE_RECEPCAO_EVENTO, soap_version)
        self._url = environment.url(Service.NFE_RECEPCAO_EVENTO)
        self._retry = retry
        self._clock = clock
        self._sleep = sleep

    def manifestar(
        self, cnpj: str, events: Sequence[ManifestacaoEvent], *, id_lote: int | None = None
    ) -> EventLotResult:
        """Register up to 20 manifestações of the recipient ``cnpj`` in one lot.

        A retry after a lost answer resends the same signed lot; events the AN had already
        registered then come back as 573 (DUPLICATE), which counts as done.
        """
        lot, request = self.prepare(cnpj, events, id_lote=id_lote)
        return with_retries(
            lambda: self.read(lot, send(self._transport, request)), self._retry, sleep=self._sleep
        )

    def prepare(
        self, cnpj: str, events: Sequence[ManifestacaoEvent], *, id_lote: int | None = None
    ) -> tuple[SignedLot, HttpRequest]:
        """The signed lot and its SOAP request; ``id_lote`` defaults to the clock in milliseconds."""
        now = self._clock()
        lot = build_env_evento(
            events,
            cnpj=cnpj,
            tp_amb=self._environment.tp_amb,
            signer=self._signer,
            id_lote=int(now.timestamp() * 1000) % 10**15 if id_lote is None else id_lote,
            when=now,
        )
        return lot, soap_request(self._url, self._contract, lot.xml)

    def read(self, lot: SignedLot, response: HttpResponse) -> EventLotResult:
        """The AN's answer to ``lot`` from the raw HTTP response."""
        result = parse_ret_env_evento(read_payload(response, "retEnvEvento", self._url), lot)
        if result.outcome.ok:
            _same_environment(self._environment, result.tp_amb, self._url)
        return result


class AdnClient:
    """NFS-e distribution from the ADN, in batches of up to 50 after a given NSU."""

    def __init__(
        self,
        transport: Transport,
        environment: Environment,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._environment = environment
        self._base_url = environment.url(Service.ADN_CONTRIBUINTES)
        self._retry = retry
        self._sleep = sleep

    def fetch(self, nsu: int, cnpj: str | None = None) -> AdnResult:
        """Documents with NSU greater than ``nsu``; ``cnpj`` selects another establishment."""
        request = self.prepare(nsu, cnpj)
        return with_retries(
            lambda: self.read(nsu, send(self._transport, request)), self._retry, sleep=self._sleep
        )

    def prepare(self, nsu: int, cnpj: str | None = None) -> HttpRequest:
        """The GET request for the batch after ``nsu``."""
        return build_adn_request(self._base_url, nsu, cnpj)

    def read(self, nsu: int, response: HttpResponse) -> AdnResult:
        """The batch after ``nsu`` from the raw HTTP response."""
        result = parse_adn_response(response, nsu, self._base_url)
        if result.outcome.ok and result.tipo_ambiente is not None:
            _same_environment(self._environment, result.tipo_ambiente, self._base_url)
        return result
