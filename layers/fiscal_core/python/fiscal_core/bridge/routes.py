"""The WebSocket API's routes: ``$connect``, ``$disconnect``, and the agent's messages.

``$connect`` is the only door: a paired, non-revoked agent's credential (compared by hash) binds
the connection to that agent's account and companies; a pairing code with a well-formed
credential records a pending pairing; anything else is refused with 401 or 403. Every later
message is tied to the account and agent through its connection id alone, never through what
the message says, and the agent's status is read again each time, so a revoked agent is cut off
by its next message even if closing its connection failed.

Messages that cannot be read, or that are refused, are answered with a note (no ``action``, no
``id``: the agent logs it and never answers it back) and logged; handlers never raise for bad
input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from fiscal_core.bridge.certificates import A3Registrar
from fiscal_core.bridge.channel import AgentChannel
from fiscal_core.bridge.messages import BadMessage, Heartbeat, Hello, Response, note, read_message
from fiscal_core.bridge.replies import AnswerRefused, ReplyDesk
from fiscal_core.bridge.secrets import bearer, is_credential, new_agent_id, normalize_code, secret_hash
from fiscal_core.bridge.sender import Dispatcher
from fiscal_core.observability import logger
from fiscal_core.storage.agents import (
    AgentRecord,
    AgentRepository,
    AgentRequestRepository,
    ConnectionRecord,
    ConnectionRepository,
    PairingRepository,
)

Event = Mapping[str, Any]
Result = dict[str, Any]
# Index reads lag writes by a moment: a just-paired credential or a just-bound connection may not
# be visible yet. Looking again briefly beats refusing an agent that is in fact valid.
INDEX_RETRY_DELAYS: Final = (0.2, 0.5, 1.0)
OK: Final = {"statusCode": 200}


def _refuse(status: int, message: str) -> Result:
    return {"statusCode": status, "body": f'{{"message": "{message}"}}'}


class BridgeRoutes:
    """What each route does; the handler module only picks the method."""

    def __init__(
        self,
        *,
        agents: AgentRepository,
        connections: ConnectionRepository,
        pairings: PairingRepository,
        requests: AgentRequestRepository,
        channel: AgentChannel,
        registrar: A3Registrar,
        dispatcher: Dispatcher,
        replies: ReplyDesk,
        clock: Callable[[], datetime],
        retry_delays: Sequence[float] = INDEX_RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._agents = agents
        self._connections = connections
        self._pairings = pairings
        self._requests = requests
        self._channel = channel
        self._registrar = registrar
        self._dispatcher = dispatcher
        self._replies = replies
        self._clock = clock
        self._delays = tuple(retry_delays)
        self._sleep = sleep

    def connect(self, event: Event) -> Result:
        """Accept a paired agent or record a pending pairing; 401/403 for anything else."""
        context = event.get("requestContext") or {}
        connection_id = str(context.get("connectionId") or "")
        credential = bearer(_header(event, "Authorization"))
        if not connection_id or credential is None or not is_credential(credential):
            logger.info("connection refused: no agent credential")
            return _refuse(401, "Unauthorized")
        code = (event.get("queryStringParameters") or {}).get("pairing_code")
        if code is not None:
            return self._pending_pairing(str(code), credential, connection_id, context)
        agent = self._retrying(lambda: self._agents.by_credential(secret_hash(credential)))
        if agent is None:
            logger.info("connection refused: unknown credential")
            return _refuse(401, "Unauthorized")
        if not agent.active:
            logger.info("connection refused: agent revoked", extra={"agent_id": agent.agent_id})
            return _refuse(403, "Forbidden")
        self._connections.put(agent.account_id, agent.agent_id, connection_id, agent.company_ids)
        self._agents.seen(agent.account_id, agent.agent_id)
        logger.info("agent connected", extra={"account_id": agent.account_id, "agent_id": agent.agent_id})
        return OK

    def disconnect(self, event: Event) -> Result:
        """Forget the connection (if it is still its agent's current one)."""
        connection_id = str((event.get("requestContext") or {}).get("connectionId") or "")
        connection = self._connections.by_connection_id(connection_id) if connection_id else None
        if connection is not None:
            self._connections.delete(connection.account_id, connection.agent_id, connection_id)
            self._agents.seen(connection.account_id, connection.agent_id)
            logger.info("agent disconnected", extra={"agent_id": connection.agent_id})
        return OK

    def message(self, event: Event) -> Result:
        """Any data message: hello, heartbeat, response; anything else gets a note back."""
        connection_id = str((event.get("requestContext") or {}).get("connectionId") or "")
        try:
            message = read_message(event.get("body"))
        except BadMessage as exc:
            logger.info("unreadable agent message", extra={"code": exc.code, "detail": exc.message})
            self._note(connection_id, note(exc.code, exc.message, exc.message_id))
            return OK
        bound = self._bound(connection_id, pairing=isinstance(message, Heartbeat) and message.pairing)
        if bound is None:
            if isinstance(message, Response) and message.agent_id is not None:
                logger.info("pairing acknowledged by the agent", extra={"agent_id": message.agent_id})
            elif not (isinstance(message, Heartbeat) and message.pairing):
                self._note(
                    connection_id, note("not_paired", "this connection is not bound to an agent", message.id)
                )
            return OK
        connection, agent = bound
        if isinstance(message, Hello):
            self._hello(connection, agent, message)
        elif isinstance(message, Heartbeat):
            self._connections.heartbeat(connection, token_ready=message.token_ready)
            self._agents.seen(agent.account_id, agent.agent_id, token_ready=message.token_ready)
        else:
            self._answer(connection, agent, message)
        return OK

    def _pending_pairing(
        self, code: str, credential: str, connection_id: str, context: Mapping[str, Any]
    ) -> Result:
        normalized = normalize_code(code)
        if normalized is None:
            logger.info("pairing refused: malformed code")
            return _refuse(403, "Forbidden")
        identity = context.get("identity") or {}
        recorded = self._pairings.record_pending(
            secret_hash(normalized), agent_id=new_agent_id(self._clock()),
            credential_hash=secret_hash(credential), connection_id=connection_id,
            source_ip=identity.get("sourceIp"), user_agent=(identity.get("userAgent") or "")[:200] or None,
        )  # fmt: skip
        if recorded is None:
            logger.info("pairing refused: code used, expired or shown by another agent")
            return _refuse(403, "Forbidden")
        logger.info("pairing pending", extra={"agent_id": recorded.agent_id})
        return OK

    def _bound(self, connection_id: str, *, pairing: bool) -> tuple[ConnectionRecord, AgentRecord] | None:
        """The connection's item and its agent; a revoked agent's connection is closed at once."""
        if not connection_id:
            return None
        if pairing:  # a pairing connection is never bound: no need to wait for the index
            connection = self._connections.by_connection_id(connection_id)
        else:
            connection = self._retrying(lambda: self._connections.by_connection_id(connection_id))
        if connection is None:
            return None
        agent = self._agents.find(connection.account_id, connection.agent_id)
        if agent is None or not agent.active:
            logger.warning(
                "message from a revoked agent; closing its connection",
                extra={"agent_id": connection.agent_id},
            )
            self._connections.delete(connection.account_id, connection.agent_id, connection_id)
            self._channel.close(connection_id)
            return None
        return connection, agent

    def _hello(self, connection: ConnectionRecord, agent: AgentRecord, hello: Hello) -> None:
        fingerprints = [c.fingerprint_sha256 for c in hello.certificates]
        self._connections.hello(
            connection, agent_version=hello.agent_version, machine=hello.machine_text(),
            fingerprints=fingerprints, token_ready=hello.token.ready,
        )  # fmt: skip
        certificate_ids = self._registrar.register(agent, hello.certificates, hello.token.label)
        self._agents.seen(
            agent.account_id, agent.agent_id, agent_version=hello.agent_version,
            machine=hello.machine_text(), token_ready=hello.token.ready, certificate_ids=certificate_ids,
        )  # fmt: skip
        logger.info("agent said hello", extra={"agent_id": agent.agent_id, "certificates": len(fingerprints)})
        for company_id in agent.company_ids:
            for request in self._requests.waiting_for_company(agent.account_id, company_id):
                if request.fingerprint is None or request.fingerprint in fingerprints:
                    self._dispatcher.send_waiting(request, connection)

    def _answer(self, connection: ConnectionRecord, agent: AgentRecord, answer: Response) -> None:
        try:
            self._replies.accept(connection, agent, answer)
        except AnswerRefused as exc:
            logger.warning("agent answer refused", extra={"agent_id": agent.agent_id, "reason": str(exc)})
            self._note(connection.connection_id, note("refused", str(exc), answer.id))

    def _note(self, connection_id: str, message: dict[str, Any]) -> None:
        if connection_id:
            self._channel.post(connection_id, message)

    def _retrying(self, read: Callable[[], Any]) -> Any:
        found = read()
        for delay in self._delays:
            if found is not None:
                break
            self._sleep(delay)
            found = read()
        return found


def _header(event: Event, name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if str(k).lower() == name.lower()), None)
