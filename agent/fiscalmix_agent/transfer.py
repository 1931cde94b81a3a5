"""Bodies too large for a WebSocket message travel through S3 presigned URLs, over plain HTTPS.

The cloud puts a large request body in S3 and sends ``body_url`` (a presigned GET); for a large
answer it sends ``upload_url`` (a presigned PUT) and the agent uploads there. These URLs carry
their own authorization, so no client certificate goes with them; the server is verified with
the system's trust store, as for any public HTTPS site. Plain ``http://`` is accepted only on the
loopback interface, where the local stand-in for S3 listens.
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from fiscalmix_agent.errors import BadRequest, TransferFailed

MAX_TRANSFER_BYTES: Final = 32 * 1024 * 1024
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, field: str) -> None:
    """BadRequest unless ``url`` is https, or http on the loopback interface."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise BadRequest(f"{field} must be an https:// URL (http:// only on the loopback interface)")


@dataclass(frozen=True)
class PresignedTransfer:
    """Downloads and uploads through presigned URLs, with a timeout and a size limit."""

    timeout: float = 60.0

    def download(self, url: str) -> bytes:
        """GET ``url``; TransferFailed when it does not answer 200 with at most 32 MiB."""
        check_url(url, "body_url")
        request = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context()) as answer:  # noqa: S310
                body: bytes = answer.read(MAX_TRANSFER_BYTES + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise TransferFailed(f"downloading the request body failed: {_reason(exc)}") from exc
        if len(body) > MAX_TRANSFER_BYTES:
            raise TransferFailed(f"the request body exceeds {MAX_TRANSFER_BYTES} bytes; refused")
        return body

    def upload(self, url: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        """PUT ``body`` to ``url``; TransferFailed unless the store answers 2xx."""
        check_url(url, "upload_url")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=body, method="PUT", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context()):  # noqa: S310
                return
        except (urllib.error.URLError, OSError) as exc:
            raise TransferFailed(f"uploading the answer body failed: {_reason(exc)}") from exc

    @staticmethod
    def _context() -> ssl.SSLContext:
        return ssl.create_default_context()  # the system's trust store, as for any public site


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"
