"""A tiny HTTPS server on 127.0.0.1 that demands a client certificate, for the transport tests.

Paths: ``/slow`` sleeps before answering, ``/status/<code>`` answers that status, ``/flaky/<n>``
answers 503 ``n`` times and then 200; anything else echoes the request body. The server records the
client certificate it saw on each request.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from local.fixtures.certificates import CertificateAuthority


@dataclass
class Seen:
    """What the server observed."""

    subjects: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on what was seen instead."""

    def _answer(self) -> None:
        seen = self.server.seen
        peer = self.connection.getpeercert() or {}
        seen.subjects.append(", ".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn))
        seen.paths.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = 200
        if self.path == "/slow":
            time.sleep(2)
        elif self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
        elif self.path.startswith("/flaky/"):
            left = seen.flaky.setdefault(self.path, int(self.path.rsplit("/", 1)[1]))
            if left:
                seen.flaky[self.path] = left - 1
                status = 503
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Echo-Method", self.command)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.seen = Seen()

    def get_request(self) -> tuple[socket.socket, object]:
        raw, address = self.socket.accept()
        # The handshake runs in the handler's thread, so a failed one never blocks accept().
        return self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: object, client_address: object) -> None:
        """Failed handshakes are what some tests provoke; nothing to print."""


@dataclass(frozen=True)
class RunningServer:
    """Where the server listens and what it saw."""

    url: str
    seen: Seen


@contextmanager
def tls_server(
    ca: CertificateAuthority,
    folder: Path,
    *,
    trusted_clients: CertificateAuthority,
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
) -> Iterator[RunningServer]:
    """Serve HTTPS with a certificate from ``ca``, requiring client certificates from ``trusted_clients``.

    ``maximum_version=TLSv1_2`` behaves as SEFAZ's servers: a refused client certificate fails the
    handshake itself, where TLS 1.3 reports it only after the client's first read.
    """
    server_cert = ca.issue_server()
    chain, key = folder / "server-chain.pem", folder / "server-key.pem"
    chain.write_bytes(server_cert.certificate_chain_pem())
    key.write_bytes(server_cert.private_key_pem())  # the test server's own key, not a company's
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    context.load_verify_locations(cadata=trusted_clients.trust_pem().decode())
    context.verify_mode = ssl.CERT_REQUIRED
    context.maximum_version = maximum_version
    server = _Server(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"https://127.0.0.1:{server.server_address[1]}", server.seen)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP listener that accepts and never speaks: a TLS handshake against it hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
