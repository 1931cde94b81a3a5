"""Failures on demand, per service: what a client must survive when SEFAZ or the network misbehaves.

A fault is taken by the next request to its service; one-shot faults are used once, persistent
ones stay until cleared. By default the request never reaches the engine (SEFAZ failed before
processing); ``processed=True`` lets the engine answer first and damages that answer, the case
where SEFAZ moved on (a new ultNSU) but the client never saw it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from local.sefaz.service import Service
from local.sefaz.soap import SoapFault, fault_response, version_of
from local.sefaz.wire import Request, Response


class FaultKind(Enum):
    """What goes wrong."""

    TIMEOUT = "timeout"  # hold the connection past the client's timeout, then drop it
    RESET = "reset"  # drop the TCP connection with a RST, no answer (under TLS, clients see the peer close)
    HTTP_500 = "http-500"  # IIS's HTML error page
    HTTP_503 = "http-503"  # service unavailable, as during SEFAZ maintenance windows
    SOAP_FAULT = "soap-fault"  # a SOAP Fault from the server side
    MALFORMED = "malformed"  # HTTP 200 whose body is not well-formed XML (or JSON)
    TRUNCATED = "truncated"  # Content-Length promises the whole answer, half arrives, connection closes


# The ADN speaks JSON, so it has no SOAP Fault to send.
_UNSUPPORTED: Final = {Service.ADN_DIST: frozenset({FaultKind.SOAP_FAULT})}
_IIS_ERROR_PAGE: Final = (
    "<!DOCTYPE html><html><head><title>{status}</title></head><body><h2>{status}</h2>"
    "<p>The server encountered an error processing the request.</p></body></html>"
)


@dataclass(frozen=True)
class Fault:
    """One fault waiting in a service's queue."""

    kind: FaultKind
    persistent: bool = False
    processed: bool = False
    seconds: float = 5.0  # how long TIMEOUT holds the connection


class FaultQueue:
    """The faults waiting for each service; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[Service, deque[Fault]] = {}

    def inject(
        self,
        service: Service,
        kind: FaultKind,
        *,
        times: int = 1,
        persistent: bool = False,
        processed: bool = False,
        seconds: float = 5.0,
    ) -> Fault:
        """Queue ``kind`` for the next ``times`` requests to ``service`` (every request if persistent)."""
        if kind in _UNSUPPORTED.get(service, frozenset()):
            raise ValueError(f"{service.value} cannot answer with {kind.value}")
        if times < 1 or (persistent and times != 1):
            raise ValueError("a fault happens at least once; a persistent one takes no count")
        fault = Fault(kind, persistent, processed, seconds)
        with self._lock:
            self._queues.setdefault(service, deque()).extend([fault] * times)
        return fault

    def take(self, service: Service) -> Fault | None:
        """The fault for the request now arriving at ``service``, or None."""
        with self._lock:
            queue = self._queues.get(service)
            if not queue:
                return None
            return queue[0] if queue[0].persistent else queue.popleft()

    def pending(self, service: Service) -> tuple[Fault, ...]:
        """The faults still waiting for ``service``."""
        with self._lock:
            return tuple(self._queues.get(service, ()))

    def clear(self, service: Service | None = None) -> None:
        """Drop the faults of ``service``, or of every service."""
        with self._lock:
            if service is None:
                self._queues.clear()
            else:
                self._queues.pop(service, None)


def damaged(kind: FaultKind, request: Request, answer: Response) -> Response:
    """The complete HTTP answer a fault sends instead of ``answer`` (not for transport faults)."""
    if kind not in _DAMAGE:
        raise ValueError(f"{kind.value} is not an HTTP-level fault")
    return _DAMAGE[kind](request, answer)


def _half(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _error_page(status: int, title: str) -> Response:
    return Response(status, "text/html; charset=utf-8", _IIS_ERROR_PAGE.format(status=title).encode())


_DAMAGE: Final[Mapping[FaultKind, Callable[[Request, Response], Response]]] = {
    FaultKind.HTTP_500: lambda _, __: _error_page(500, "500 - Internal server error."),
    FaultKind.HTTP_503: lambda _, __: _error_page(503, "503 - Service Unavailable"),
    FaultKind.SOAP_FAULT: lambda request, _: fault_response(
        version_of(request), SoapFault("Server was unable to process request.", client=False)
    ),
    # Complete HTTP framing, but the body stops halfway: no longer well-formed XML or JSON.
    FaultKind.MALFORMED: lambda _, answer: Response(
        200, answer.content_type, answer.body[: len(answer.body) // 2]
    ),
}
