"""Where each service lives in production, homologação and the local simulator, as one table.

URLs come from docs/sefaz-protocol.md §1.1, §2, §3 and §4.1 (sped-nfe, sped-cte, nfelib, PyNFe
agree on them). A local environment keeps the real paths on another origin, so the simulator and
the production code share every path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from fiscal_core.errors import InvalidValue


class Service(Enum):
    """A remote service FiscalMix calls, with its path on the host."""

    NFE_DISTRIBUICAO = "/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx"
    CTE_DISTRIBUICAO = "/CTeDistribuicaoDFe/CTeDistribuicaoDFe.asmx"
    NFE_RECEPCAO_EVENTO = "/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx"
    ADN_CONTRIBUINTES = "/contribuintes"

    @property
    def path(self) -> str:
        """The path on the service's host; the ADN's is the prefix of ``/contribuintes/DFe/{NSU}``."""
        return self.value


class TpAmb(Enum):
    """``tpAmb``: the environment a request declares; 252 answers a mismatch with the server."""

    PRODUCTION = "1"
    HOMOLOGATION = "2"


@dataclass(frozen=True)
class Environment:
    """A named set of endpoints and the ``tpAmb`` requests there must carry."""

    name: str
    tp_amb: TpAmb
    urls: Mapping[Service, str] = field(repr=False)

    def url(self, service: Service) -> str:
        """The full URL of ``service`` in this environment."""
        return self.urls[service]


def _table(hosts: Mapping[Service, str]) -> Mapping[Service, str]:
    return MappingProxyType({service: f"https://{host}{service.path}" for service, host in hosts.items()})


PRODUCTION: Final = Environment(
    name="production",
    tp_amb=TpAmb.PRODUCTION,
    urls=_table(
        {
            Service.NFE_DISTRIBUICAO: "www1.nfe.fazenda.gov.br",
            Service.CTE_DISTRIBUICAO: "www1.cte.fazenda.gov.br",
            Service.NFE_RECEPCAO_EVENTO: "www.nfe.fazenda.gov.br",
            Service.ADN_CONTRIBUINTES: "adn.nfse.gov.br",
        }
    ),
)
HOMOLOGATION: Final = Environment(
    name="homologacao",
    tp_amb=TpAmb.HOMOLOGATION,
    urls=_table(
        {
            Service.NFE_DISTRIBUICAO: "hom1.nfe.fazenda.gov.br",
            Service.CTE_DISTRIBUICAO: "hom1.cte.fazenda.gov.br",
            Service.NFE_RECEPCAO_EVENTO: "hom1.nfe.fazenda.gov.br",
            Service.ADN_CONTRIBUINTES: "adn.producaorestrita.nfse.gov.br",
        }
    ),
)


def local_environment(base_url: str, *, tp_amb: TpAmb = TpAmb.HOMOLOGATION) -> Environment:
    """Every service at its real path under ``base_url`` (``https://127.0.0.1:8443``).

    The simulator plays homologação by default, so documents it serves never pass for real ones.
    """
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.netloc or parts.path.strip("/") or parts.query:
        raise InvalidValue("base_url", f"expected https://host[:port] without a path, got {base_url!r}")
    origin = f"https://{parts.netloc}"
    return Environment(
        name="local",
        tp_amb=tp_amb,
        urls=MappingProxyType({service: origin + service.path for service in Service}),
    )
