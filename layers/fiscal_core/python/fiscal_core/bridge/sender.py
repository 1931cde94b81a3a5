"""Sending the sync's calls to agents: the dispatch task, and waiting calls on an agent's hello.

The workflow invokes dispatch with a task token (``.waitForTaskToken``). The request goes to the
live connection of an active agent that serves the company and holds the call's certificate; the
request is marked SENT (with the token) before the post, so an answer can never arrive for a
request the bridge does not yet know was sent. With no such connection the token is kept and
the request WAITS: the hello of a suitable agent sends it, and the workflow's TimeoutSeconds
bounds the wait. Bodies too large for a message go through presigned S3 links.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from fiscal_core.bridge.calls import AgentCall, CallAction
from fiscal_core.bridge.channel import AgentChannel
from fiscal_core.bridge.errors import RequestNotDispatchable
from fiscal_core.bridge.objects import CallStore, TaskTokens
from fiscal_core.observability import logger
from fiscal_core.storage.agents import (
    AgentRepository,
    AgentRequestRecord,
    AgentRequestRepository,
    ConnectionRecord,
    ConnectionRepository,
    RequestStatus,
)

MAX_TIMEOUT_S: Final = 120  # the agent refuses more (agent/PROTOCOL.md)


class Outcome(StrEnum):
    """What dispatch did with a request."""

    SENT = "sent"
    WAITING = "waiting"
    ANSWERED = "answered"  # it had been answered already: the token was completed at once


@dataclass(frozen=True, slots=True)
class DispatchTask:
    """The dispatch task's input, as the workflow passes it."""

    account_id: str
    company_id: str
    request_id: str
    task_token: str


class Dispatcher:
    """Finds an agent for a call and sends it, or keeps it waiting for one."""

    def __init__(
        self,
        *,
        requests: AgentRequestRepository,
        connections: ConnectionRepository,
        agents: AgentRepository,
        channel: AgentChannel,
        calls: CallStore,
        tokens: TaskTokens,
        clock: Callable[[], datetime],
    ) -> None:
        self._requests = requests
        self._connections = connections
        self._agents = agents
        self._channel = channel
        self._calls = calls
        self._tokens = tokens
        self._clock = clock

    def dispatch(self, task: DispatchTask) -> Outcome:
        """Send the request to an agent of its company, or keep its token until one says hello."""
        request = self._requests.find(task.account_id, task.request_id)
        if request is None or request.company_id != task.company_id:
            raise RequestNotDispatchable(
                f"agent request {task.request_id} does not exist for company {task.company_id}"
            )
        if request.status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
            # A step that runs again asks again: the answer is already stored next to the call.
            self._tokens.succeed(task.task_token, answer_output(request))
            return Outcome.ANSWERED
        call = self._calls.load_call(task.account_id, task.company_id, task.request_id)
        if (call.account_id, call.company_id, call.request_id) != (
            task.account_id, task.company_id, task.request_id,
        ):  # fmt: skip
            raise RequestNotDispatchable(f"agent request {task.request_id}: call.json is for another request")
        for connection in self.candidates(task.account_id, task.company_id, call.fingerprint):
            if not self._requests.mark_sent(
                task.account_id, task.request_id, agent_id=connection.agent_id,
                connection_id=connection.connection_id, task_token=task.task_token,
            ):  # fmt: skip
                return Outcome.ANSWERED  # answered between our read and now
            if self._channel.post(connection.connection_id, self.message(call), owner=connection):
                logger.info(
                    "agent request sent",
                    extra={"request_id": call.request_id, "agent_id": connection.agent_id},
                )
                return Outcome.SENT
        self._requests.mark_waiting(task.account_id, task.request_id, task.company_id, task.task_token)
        # An agent that said hello between our look and our mark found nothing waiting: look again.
        for connection in self.candidates(task.account_id, task.company_id, call.fingerprint):
            if self.send_waiting(self._requests.get(task.account_id, task.request_id), connection):
                return Outcome.SENT
        logger.info("no agent online for the request; it waits", extra={"request_id": call.request_id})
        return Outcome.WAITING

    def send_waiting(self, request: AgentRequestRecord, connection: ConnectionRecord) -> bool:
        """Send a WAITING request on a connection that just said hello; False if not sent."""
        if request.status != RequestStatus.WAITING or request.company_id is None:
            return False
        if not self._requests.mark_sent(
            request.account_id, request.request_id, agent_id=connection.agent_id,
            connection_id=connection.connection_id, only_if_waiting=True,
        ):  # fmt: skip
            return False
        call = self._calls.load_call(request.account_id, request.company_id, request.request_id)
        if self._channel.post(connection.connection_id, self.message(call), owner=connection):
            logger.info("waiting agent request sent", extra={"request_id": request.request_id})
            return True
        self._requests.back_to_waiting(
            request.account_id, request.request_id, request.company_id, connection.agent_id
        )
        return False

    def candidates(self, account_id: str, company_id: str, fingerprint: str | None) -> list[ConnectionRecord]:
        """Live connections, after hello, of active agents serving the company and holding the key."""
        now = self._clock()
        found = [
            c for c in self._connections.for_account(account_id)
            if company_id in c.company_ids and c.hello_at is not None and c.online(now)
            and (not fingerprint or fingerprint in c.fingerprints)
        ]  # fmt: skip
        active = []
        for connection in sorted(found, key=lambda c: c.last_heartbeat_at, reverse=True):
            agent = self._agents.find(account_id, connection.agent_id)
            if agent is not None and agent.active and company_id in agent.company_ids:
                active.append(connection)
        return active

    def message(self, call: AgentCall) -> dict[str, Any]:
        """The protocol message for a call (agent/PROTOCOL.md, "Cloud → agent")."""
        message: dict[str, Any] = {"action": call.action.value, "id": call.request_id}
        if call.fingerprint:
            message["certificate"] = call.fingerprint
        if call.action is CallAction.SIGN_XML:
            if call.signed_info_b64 is None:
                raise RequestNotDispatchable(f"agent request {call.request_id}: sign_xml without signed_info")
            message["signed_info"] = call.signed_info_b64
            return message
        if call.method is None or call.url is None:
            raise RequestNotDispatchable(
                f"agent request {call.request_id}: sefaz_request without method or url"
            )
        message |= {
            "method": call.method, "url": call.url, "headers": dict(call.headers),
            "timeout_s": min(call.timeout_s, MAX_TIMEOUT_S),
        }  # fmt: skip
        ids = (call.account_id, call.company_id, call.request_id)
        if call.body_b64 is not None:
            message["body"] = call.body_b64
        elif (link := self._calls.body_link(*ids)) is not None:
            message["body_url"] = link
        message["upload_url"] = self._calls.upload_link(*ids)
        return message


def answer_output(request: AgentRequestRecord) -> dict[str, Any]:
    """What the workflow's task returns once answered: the sync reads the reply from S3."""
    return {"request_id": request.request_id, "ok": request.status == RequestStatus.SUCCEEDED}
