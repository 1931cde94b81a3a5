"""The HTTP side of the gateway: a threaded server on 127.0.0.1 in front of :class:`HttpApi`.

It reads requests (Content-Length or chunked), enforces the 10 MB payload limit with a 413 before
the body is read in full, and writes back what the API answered, one log line per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from local.http_gateway.events import HttpRequest
from local.http_gateway.integration import INTEGRATION_TIMEOUT_SECONDS, HttpApi
from local.http_gateway.responses import HttpResponse, gateway_error
from local.http_gateway.routes import HttpRoute
from local.jwt_authorizer import JwtAuthorizer, JwtAuthorizerConfig

logger = logging.getLogger(__name__)

# The embedded default never listens beyond this machine.
LOOPBACK = "127.0.0.1"
# API Gateway's payload quota for HTTP APIs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class _PayloadTooLarge(Exception):
    """The request body passed the payload quota."""


class HttpGateway:
    """An HTTP API on a local port: start it, send it requests, stop it.

    >>> with HttpGateway(routes, authorizer=config) as gateway:  # doctest: +SKIP
    ...     urllib.request.urlopen(f"{gateway.url}/companies")
    """

    def __init__(
        self,
        routes: Sequence[HttpRoute],
        *,
        authorizer: JwtAuthorizerConfig | None = None,
        port: int = 0,
        api_id: str = "local",
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self._api = HttpApi(
            routes,
            JwtAuthorizer(authorizer) if authorizer else None,
            api_id=api_id,
            integration_timeout_seconds=integration_timeout_seconds,
        )
        self._requested_port = port
        self._max_payload_bytes = max_payload_bytes
        self._server: _GatewayServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind 127.0.0.1 (port 0 picks a free one) and serve on a background thread."""
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        self._server = _GatewayServer((LOOPBACK, self._requested_port), self._api, self._max_payload_bytes)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="http-gateway",
            daemon=True,
        )
        self._thread.start()
        logger.info("HTTP gateway listening on %s", self.url)

    def stop(self) -> None:
        """Stop accepting requests and release the port; a no-op when not running."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    @property
    def server_address(self) -> tuple[str, int]:
        """The (host, port) the socket is bound to."""
        if self._server is None:
            raise RuntimeError("the gateway is not running; call start() first")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The base URL clients call, such as ``http://127.0.0.1:8080``."""
        host, port = self.server_address
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _GatewayServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], api: HttpApi, max_payload_bytes: int) -> None:
        self.api = api
        self.max_payload_bytes = max_payload_bytes
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive; every response then needs its Content-Length.
    protocol_version = "HTTP/1.1"
    server: _GatewayServer

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_HEAD(self) -> None:
        """Serve a HEAD: the handler runs, the body is not sent."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def do_PUT(self) -> None:
        """Serve a PUT."""
        self._serve()

    def do_PATCH(self) -> None:
        """Serve a PATCH."""
        self._serve()

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._serve()

    def do_OPTIONS(self) -> None:
        """Serve an OPTIONS."""
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _PayloadTooLarge:
            # The rest of the body is still on the socket, so this connection cannot be reused.
            self.close_connection = True
            response = gateway_error(413, "Request Entity Too Large")
        except ValueError:
            # A framing we cannot parse leaves the connection out of step: close it too.
            self.close_connection = True
            response = gateway_error(400, "Bad Request")
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=tuple(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
            )
            response = self.server.api.handle(request)
        elapsed_ms = (time.monotonic() - started) * 1000
        # Logged before writing, so the line exists once the client has its answer. The path goes
        # without its query string: query strings can carry tokens.
        logger.info("%s %s %d %.0fms", self.command, self.path.partition("?")[0], response.status, elapsed_ms)
        self._write(response)

    def _read_body(self) -> bytes:
        limit = self.server.max_payload_bytes
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError(f"negative Content-Length {length}")
        if length > limit:
            raise _PayloadTooLarge
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        received = 0
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            received += size
            if received > limit:
                raise _PayloadTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF that closes each chunk
        # Trailer fields, if any, end with an empty line.
        while self.rfile.readline().strip():
            pass
        return b"".join(chunks)

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_serve` logs one line per request through ``logging``."""

    def log_message(self, format: str, *args: object) -> None:
        """Protocol errors (bad request lines and the like) go to ``logging``, not stderr."""
        logger.warning("%s - %s", self.client_address[0], format % args)
