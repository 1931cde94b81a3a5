"""The ``@connections`` management API over HTTP, so boto3's ``apigatewaymanagementapi`` works unchanged.

botocore sends ``{POST,GET,DELETE} <endpoint path>/@connections/<percent-encoded id>``, keeping
any path of ``endpoint_url``: AWS's endpoint is ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``,
so both ``/{stage}/@connections/...`` and ``/@connections/...`` are served. Errors carry
``x-amzn-ErrorType``, which botocore turns into ``client.exceptions.<Code>``. SigV4 signatures
are not checked: locally the credentials are fake.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)


class ConnectionGone(Exception):
    """The connection is unknown or closed: API Gateway answers 410 GoneException."""


class PayloadTooLarge(Exception):
    """The data is over the message size quota: API Gateway answers 413 PayloadTooLargeException."""


_ERRORS: dict[type[Exception], tuple[HTTPStatus, str]] = {
    ConnectionGone: (HTTPStatus.GONE, "GoneException"),
    PayloadTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "PayloadTooLargeException"),
}


class ConnectionOperations(Protocol):
    """What the management API does to connections; the gateway implements it."""

    def post_to_connection(self, connection_id: str, data: bytes) -> None:
        """Send ``data`` to the client; ConnectionGone or PayloadTooLarge when that is impossible."""

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        """GetConnection's JSON (``connectedAt``, ``identity``, ``lastActiveAt``), or ConnectionGone."""

    def delete_connection(self, connection_id: str) -> None:
        """Close the connection (its ``$disconnect`` follows), or ConnectionGone."""


class ManagementServer:
    """A loopback HTTP server for ``@connections``, in its own thread; ``url`` is boto3's endpoint_url."""

    def __init__(self, operations: ConnectionOperations, stage: str, port: int = 0) -> None:
        self._http = _ManagementHttpServer(operations, stage, port)
        # serve_forever notices shutdown() only between polls; a short poll keeps stop() quick.
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="ws-management", daemon=True
        )

    @property
    def url(self) -> str:
        """The endpoint with the stage path, as AWS's management endpoint has it."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/{self._http.stage}"

    def start(self) -> None:
        """Serve requests until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread."""
        if self._thread.is_alive():
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()


class _ManagementHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, operations: ConnectionOperations, stage: str, port: int) -> None:
        self.operations = operations
        self.stage = stage
        super().__init__(("127.0.0.1", port), _ManagementHandler)


class _ManagementHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps botocore's pooled connections alive; every reply sets Content-Length.
    protocol_version = "HTTP/1.1"
    server: _ManagementHttpServer

    def do_POST(self) -> None:
        # Read the body first, whatever happens next, so the kept-alive connection stays in sync.
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operations = self.server.operations
        self._answer(lambda connection_id: operations.post_to_connection(connection_id, data))

    def do_GET(self) -> None:
        self._answer(self.server.operations.get_connection)

    def do_DELETE(self) -> None:
        self._answer(self.server.operations.delete_connection)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("@connections %s", format % args)

    def _answer(self, operation: Callable[[str], dict[str, Any] | None]) -> None:
        connection_id = self._connection_id()
        if connection_id is None:
            self._reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")
            return
        try:
            result = operation(connection_id)
        except tuple(_ERRORS) as exc:
            status, error_type = _ERRORS[type(exc)]
            self._reply(status, {"message": str(exc)}, error_type)
            return
        if result is None:
            self._reply(HTTPStatus.NO_CONTENT if self.command == "DELETE" else HTTPStatus.OK, None)
        else:
            self._reply(HTTPStatus.OK, result)

    def _connection_id(self) -> str | None:
        """The id in ``[/{stage}]/@connections/{id}``; None for any other path."""
        segments = urlsplit(self.path).path.split("/")[1:]
        if len(segments) == 3 and unquote(segments[0]) == self.server.stage:
            segments = segments[1:]
        if len(segments) == 2 and unquote(segments[0]) == "@connections" and segments[1]:
            return unquote(segments[1])
        return None

    def _reply(
        self, status: HTTPStatus, payload: dict[str, Any] | None, error_type: str | None = None
    ) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if error_type is not None:
            self.send_header("x-amzn-ErrorType", error_type)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
