"""The cloud's side of the agent protocol, just enough to test the agent: tiny route handlers on the
local API Gateway WebSocket emulation, and a way to send requests and await their answers.

``$connect`` accepts the one credential whose SHA-256 it knows (401 otherwise) or, with a pairing
code, records the pending pairing; ``hello``, ``heartbeat`` and ``response`` keep what arrives.
The real handlers live in functions/ws_bridge; this stands in for them here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fiscalmix_agent.client import AgentClient
from local.ws_gateway import WsApiConfig, WsGateway, WsRoute

Event = dict[str, Any]
WAIT_S = 10.0


def _header(event: Event, name: str) -> str | None:
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == name.lower()), None)


@dataclass
class Bridge:
    """The stand-in cloud bridge; ``start`` again after ``stop`` reuses the same port."""

    credential_hashes: set[str] = field(default_factory=set)
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    connects: queue.Queue[Event] = field(default_factory=queue.Queue)
    disconnects: queue.Queue[Event] = field(default_factory=queue.Queue)
    hellos: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    heartbeats: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    pairings: queue.Queue[dict[str, str]] = field(default_factory=queue.Queue)
    connection_id: str | None = None
    port: int = 0
    _gateway: WsGateway | None = None
    _responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    _answered: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> None:
        routes = [
            WsRoute("$connect", self._connect, "fn-connect"),
            WsRoute("$disconnect", self._record(self.disconnects, raw=True), "fn-disconnect"),
            WsRoute("hello", self._record(self.hellos), "fn-hello"),
            WsRoute("heartbeat", self._record(self.heartbeats), "fn-heartbeat"),
            WsRoute("response", self._response, "fn-response"),
        ]
        config = WsApiConfig(
            routes=routes, idle_timeout_s=self.idle_timeout_s, max_connection_s=self.max_connection_s
        )
        self._gateway = WsGateway(config, port=self.port)
        self._gateway.start()
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None

    @property
    def url(self) -> str:
        assert self._gateway is not None
        return self._gateway.url

    def _connect(self, event: Event, context: Any) -> dict[str, Any]:
        authorization = _header(event, "Authorization") or ""
        credential = authorization.removeprefix("Bearer ")
        digest = hashlib.sha256(credential.encode()).hexdigest()
        code = (event.get("queryStringParameters") or {}).get("pairing_code")
        connection_id = event["requestContext"]["connectionId"]
        if code is not None:
            self.pairings.put({"code": code, "credential_hash": digest, "connection_id": connection_id})
        elif digest not in self.credential_hashes:
            self.connects.put(event)
            return {"statusCode": 401, "body": '{"message": "Unauthorized"}'}
        self.connects.put(event)
        self.connection_id = connection_id
        return {"statusCode": 200}

    @staticmethod
    def _record(into: queue.Queue[Any], *, raw: bool = False) -> Callable[[Event, Any], dict[str, Any]]:
        def handler(event: Event, context: Any) -> dict[str, Any]:
            into.put(event if raw else json.loads(event["body"]))
            return {"statusCode": 200}

        return handler

    def _response(self, event: Event, context: Any) -> dict[str, Any]:
        message = json.loads(event["body"])
        with self._answered:
            self._responses[message["id"]] = message
            self._answered.notify_all()
        return {"statusCode": 200}

    def post(self, message: dict[str, Any], connection_id: str | None = None) -> None:
        """Send ``message`` to the agent (through ``@connections``, as the cloud does)."""
        assert self._gateway is not None
        target = connection_id or self.connection_id
        assert target is not None, "no agent connected"
        self._gateway.post_to_connection(target, json.dumps(message).encode())

    def answer(self, request_id: str, timeout: float = WAIT_S) -> dict[str, Any]:
        """The agent's ``response`` to ``request_id``, waiting for it."""
        with self._answered:
            if not self._answered.wait_for(lambda: request_id in self._responses, timeout):
                raise AssertionError(f"no response to {request_id} within {timeout} s")
            return self._responses.pop(request_id)

    def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """Send a request and return the agent's response."""
        request_id = f"req-{time.monotonic_ns()}"
        self.post({"action": action, "id": request_id, **fields})
        return self.answer(request_id)


class AgentThread:
    """An AgentClient running on its own event loop and thread, as ``fiscalmix-agent run`` runs it."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="agent", daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.client.run(self._stop))
        except BaseException as exc:  # the test asserts on it
            self.error = exc
        finally:
            self._loop.close()

    def start(self) -> AgentThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the agent did not stop"

    def join(self, timeout: float = WAIT_S) -> None:
        self._thread.join(timeout)


def wait_for(condition: Callable[[], bool], timeout: float = WAIT_S, what: str = "condition") -> None:
    """Poll ``condition`` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
