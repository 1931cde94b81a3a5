"""What an endpoint sees of an HTTP exchange, independent of the server that carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One HTTP request; ``headers`` keys are lower case; ``certificate_cnpj`` is the TLS peer's CNPJ."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    certificate_cnpj: str | None = None


@dataclass(frozen=True)
class Response:
    """One HTTP answer."""

    status: int
    content_type: str
    body: bytes
