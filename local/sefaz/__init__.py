"""The SEFAZ simulator: NF-e and CT-e distribution (NT 2014.002), the manifestação do destinatário
and the ADN's NFS-e distribution, over mutual TLS on 127.0.0.1, with a controllable clock, a ledger
of broken rules and faults on demand.

Layers, each usable alone: :class:`SimClock`; the engine (:class:`DistributionEngine`, rules in
``queries``, ``manifestacao`` and ``rules``); the protocol adapters (``soap``, ``distribuicao_dfe``,
``recepcao_evento``, ``adn``); the HTTPS ``server``; and :class:`SefazSimulator`, which ties them
together. :func:`seed_company` fills the queues with realistic documents.
"""

from local.sefaz.clock import Clock, SimClock
from local.sefaz.cstat import Code
from local.sefaz.distribution import DistributionEngine
from local.sefaz.faults import Fault, FaultKind, FaultQueue
from local.sefaz.ledger import Ledger, Violation
from local.sefaz.queries import DistQuery, DistResult, QueryKind
from local.sefaz.rules import Policy
from local.sefaz.scenarios import DEFAULT_MIX, SeededCompany, Story, seed_company
from local.sefaz.service import Service
from local.sefaz.simulator import SefazSimulator

__all__ = [
    "DEFAULT_MIX",
    "Clock",
    "Code",
    "DistQuery",
    "DistResult",
    "DistributionEngine",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "Ledger",
    "Policy",
    "QueryKind",
    "SeededCompany",
    "SefazSimulator",
    "Service",
    "SimClock",
    "Story",
    "Violation",
    "seed_company",
]
