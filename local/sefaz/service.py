"""The four services the simulator stands in for; each keeps its own queues, pause switch and faults."""

from __future__ import annotations

from enum import Enum
from typing import Final

VER_APLIC: Final = "AN_SIM_1.0.0"  # the verAplic every simulated SOAP answer reports


class Service(Enum):
    """A simulated web service, named as its real endpoint."""

    NFE_DIST = "NFeDistribuicaoDFe"
    CTE_DIST = "CTeDistribuicaoDFe"
    NFE_EVENTO = "NFeRecepcaoEvento4"
    ADN_DIST = "ADN contribuintes/DFe"
