"""The HTTPS server: one port on 127.0.0.1, mutual TLS, the real paths of the four services.

The TLS handshake runs in the connection's own thread, so a client that fails it (no certificate,
an expired or untrusted one) never holds up the accept loop; each failure is kept in
``handshake_failures``. Faults are applied here, because timeouts, resets and truncation act on the
connection rather than on the answer.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509

from local.sefaz import adn, distribuicao_dfe, recepcao_evento
from local.sefaz.distribution import DistributionEngine
from local.sefaz.faults import Fault, FaultKind, FaultQueue, damaged
from local.sefaz.service import Service
from local.sefaz.soap import MessageHandler, SoapBinding, SoapFault, fault_response, serve, version_of
from local.sefaz.tls import peer_cnpj
from local.sefaz.wire import Request, Response

logger = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"
MAX_BODY_BYTES: Final = 1024 * 1024  # an envEvento of 20 signed events is ~60 KB
_HANDSHAKE_SECONDS: Final = 5.0
_IDLE_SECONDS: Final = 30.0
_ABORTIVE: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, zero seconds


@dataclass(frozen=True)
class Route:
    """One endpoint: its service, method and path, how it answers and what a fault damages instead
    of a real answer when the request is not processed."""

    service: Service
    method: str
    path: re.Pattern[str]
    handle: Callable[[Request, re.Match[str]], Response]
    placeholder: Callable[[Request], Response]


def _soap_route(path: str, service: Service, binding: SoapBinding, handler: MessageHandler) -> Route:
    return Route(
        service,
        "POST",
        re.compile(re.escape(path)),
        lambda request, _: serve(binding, request, handler),
        lambda request: fault_response(
            version_of(request), SoapFault("Server was unable to process request.")
        ),
    )


def routes(engine: DistributionEngine, trusted: Sequence[x509.Certificate]) -> tuple[Route, ...]:
    """The four endpoints at their real paths, over ``engine``; signatures must chain to ``trusted``."""
    nfe, cte = (distribuicao_dfe.DIST_SPECS[service] for service in (Service.NFE_DIST, Service.CTE_DIST))
    adn_handler = adn.handler(engine)
    return (
        _soap_route(
            "/NFeDistribuicaoDFe/NFeDistribuicaoDFe.asmx",
            Service.NFE_DIST,
            nfe.binding,
            distribuicao_dfe.handler(engine, nfe),
        ),
        _soap_route(
            "/CTeDistribuicaoDFe/CTeDistribuicaoDFe.asmx",
            Service.CTE_DIST,
            cte.binding,
            distribuicao_dfe.handler(engine, cte),
        ),
        _soap_route(
            "/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx",
            Service.NFE_EVENTO,
            recepcao_evento.BINDING,
            recepcao_evento.handler(engine, trusted),
        ),
        Route(
            Service.ADN_DIST,
            "GET",
            re.compile(r"/contribuintes/DFe/(?P<nsu>[^/]+)"),
            lambda request, match: adn_handler(request, match["nsu"]),
            lambda _: adn.placeholder(engine),
        ),
    )


class SefazServer(ThreadingHTTPServer):
    """A threaded HTTPS server over :func:`routes`; see :class:`local.sefaz.simulator.SefazSimulator`."""

    daemon_threads = True

    def __init__(
        self, port: int, context: ssl.SSLContext, table: Sequence[Route], faults: FaultQueue
    ) -> None:
        self.context = context
        self.table = tuple(table)
        self.faults = faults
        self.stopping = threading.Event()  # wakes connections held by a TIMEOUT fault
        self.handshake_failures: list[str] = []
        self.errors: list[str] = []
        super().__init__((LOOPBACK, port), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Complete the TLS handshake in this connection's thread, then serve HTTP over it."""
        try:
            request.settimeout(_HANDSHAKE_SECONDS)
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.handshake_failures.append(str(exc))
            logger.info("TLS handshake with %s failed: %s", client_address[0], exc)
            self.shutdown_request(request)
            return
        super().process_request_thread(connection, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Close the connection; one set to reset is closed at once, so RST is all the client gets."""
        try:
            aborting = request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, len(_ABORTIVE)) == _ABORTIVE
        except OSError:  # already closed (a failed handshake)
            aborting = False
        if aborting:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def find(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        """The route serving ``method`` ``path``, with its match."""
        for route in self.table:
            match = route.path.fullmatch(path)
            if match and route.method == method:
                return route, match
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_SECONDS
    server: SefazServer

    def do_GET(self) -> None:
        """Serve a GET (the ADN)."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST (the SOAP services)."""
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._write(Response(413, "text/plain", b"Request Entity Too Large"))
            return
        body = self.rfile.read(length)
        found = self.server.find(self.command, url.path)
        if found is None:
            self._write(Response(404, "text/plain", f"no simulated service at {url.path}".encode()))
            return
        route, match = found
        assert isinstance(self.connection, ssl.SSLSocket)
        request = Request(
            self.command,
            url.path,
            dict(parse_qsl(url.query)),
            {name.lower(): value for name, value in self.headers.items()},
            body,
            peer_cnpj(self.connection),
        )
        fault = self.server.faults.take(route.service)
        try:
            answer = (
                route.handle(request, match)
                if fault is None or fault.processed
                else route.placeholder(request)
            )
        except Exception as exc:
            # A bug in the simulator: answer 500 and keep it where tests look.
            logger.exception("simulator error on %s %s", self.command, url.path)
            self.server.errors.append(f"{self.command} {url.path}: {exc!r}")
            answer, fault = Response(500, "text/plain", f"simulator error: {exc!r}".encode()), None
        if fault is None:
            self._write(answer)
        else:
            _FAULT_ACTIONS.get(fault.kind, _Handler._damage)(self, fault, request, answer)

    def _write(self, response: Response, *, send: int | None = None) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body[:send])
        self.wfile.flush()

    def _damage(self, fault: Fault, request: Request, answer: Response) -> None:
        self._write(damaged(fault.kind, request, answer))

    def _timeout(self, fault: Fault, request: Request, answer: Response) -> None:
        self.server.stopping.wait(fault.seconds)
        self._drop(reset=False)

    def _reset(self, fault: Fault, request: Request, answer: Response) -> None:
        self._drop(reset=True)

    def _truncate(self, fault: Fault, request: Request, answer: Response) -> None:
        self._write(answer, send=len(answer.body) // 2)
        self._drop(reset=False)

    def _drop(self, *, reset: bool) -> None:
        """End the connection after this request without a TLS close_notify; with ``reset``, by a
        TCP RST: SO_LINGER with a zero timeout makes close() abortive (see shutdown_request)."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORTIVE)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests go to ``logging`` at debug level, not to stderr."""
        logger.debug("%s %s %s", self.command, self.path, code)

    def log_message(self, format: str, *args: object) -> None:
        """Protocol errors go to ``logging``, not to stderr."""
        logger.info("%s - %s", self.client_address[0], format % args)


_FAULT_ACTIONS: Final[dict[FaultKind, Callable[[_Handler, Fault, Request, Response], None]]] = {
    FaultKind.TIMEOUT: _Handler._timeout,
    FaultKind.RESET: _Handler._reset,
    FaultKind.TRUNCATED: _Handler._truncate,
}
