"""``SefazSimulator``: the AN's NF-e and CT-e distribution, RecepcaoEvento and the ADN on one
local HTTPS port, for tests and ``make run``.

>>> with SefazSimulator() as sefaz:  # doctest: +SKIP
...     sefaz.seed("11222333000181", documents=200)
...     sefaz.clock.advance(timedelta(hours=1))
...     assert not sefaz.ledger, sefaz.ledger.describe()
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Self

from local.fixtures.certificates import CertificateAuthority, default_ca
from local.fixtures.documents.xmlbuild import HOMOLOGATION
from local.sefaz.clock import SimClock
from local.sefaz.distribution import DistributionEngine
from local.sefaz.faults import FaultQueue
from local.sefaz.ledger import Ledger
from local.sefaz.rules import Policy
from local.sefaz.scenarios import DEFAULT_MIX, SeededCompany, Story, seed_company
from local.sefaz.server import SefazServer, routes
from local.sefaz.tls import server_context

logger = logging.getLogger(__name__)


class SefazSimulator:
    """The simulated services: start it, point clients at :attr:`url` trusting :attr:`ca_pem`.

    Clients authenticate with an e-CNPJ from ``ca`` (the test CA by default). ``clock``, ``engine``,
    ``ledger`` and ``faults`` are there for tests to drive time, seed documents, check that no rule
    was broken and inject failures.
    """

    def __init__(
        self,
        *,
        clock: SimClock | None = None,
        policy: Policy | None = None,
        ca: CertificateAuthority | None = None,
        environment: str = HOMOLOGATION,
        port: int = 0,
        tls_maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    ) -> None:
        self.clock = clock or SimClock()
        self.ca = ca or default_ca()
        self.ledger = Ledger()
        self.engine = DistributionEngine(
            self.clock, policy=policy, ledger=self.ledger, environment=environment
        )
        self.faults = FaultQueue()
        self._port = port
        self._tls_maximum_version = tls_maximum_version
        self._server: SefazServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on 127.0.0.1 (port 0 picks a free one) and serve on a background thread."""
        if self._server is not None:
            raise RuntimeError("the SEFAZ simulator is already running")
        context = server_context(self.ca, maximum_version=self._tls_maximum_version)
        self._server = SefazServer(self._port, context, routes(self.engine, self.ca.trusted), self.faults)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sefaz-simulator",
            daemon=True,
        )
        self._thread.start()
        logger.info("SEFAZ simulator listening on %s", self.url)

    def stop(self) -> None:
        """Stop serving and release the port; connections held by a TIMEOUT fault are let go."""
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None

    @property
    def url(self) -> str:
        """The base URL, ``https://127.0.0.1:PORT``; append the real paths of each service."""
        host, port = self._running().server_address[:2]
        return f"https://{host!s}:{port}"

    @property
    def ca_pem(self) -> bytes:
        """The PEM bundle (root and issuing CA) clients trust for the server and issue certificates from."""
        return self.ca.trust_pem()

    @property
    def handshake_failures(self) -> tuple[str, ...]:
        """Why each refused TLS handshake failed, in order (no certificate, expired, unknown CA...)."""
        return tuple(self._running().handshake_failures)

    @property
    def errors(self) -> tuple[str, ...]:
        """Internal errors of the simulator itself; tests expect none."""
        return tuple(self._running().errors)

    def seed(
        self,
        cnpj: str,
        *,
        documents: int = 100,
        nfse_documents: int = 0,
        issued: int = 0,
        name: str = "EMPRESA TESTE LTDA",
        since: datetime | None = None,
        until: datetime | None = None,
        seed: int = 0,
        mix: Mapping[Story, int] = DEFAULT_MIX,
    ) -> SeededCompany:
        """Seed documents for ``cnpj`` arriving over ``[since, until]``; see
        :func:`local.sefaz.scenarios.seed_company`."""
        return seed_company(
            self.engine,
            cnpj,
            documents=documents,
            nfse_documents=nfse_documents,
            issued=issued,
            name=name,
            since=since,
            until=until,
            seed=seed,
            mix=mix,
        )

    def _running(self) -> SefazServer:
        if self._server is None:
            raise RuntimeError("the SEFAZ simulator is not running; call start() first")
        return self._server

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
