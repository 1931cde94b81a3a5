"""An agent's ``response``: checked against the request it answers, stored, handed to the workflow.

Only the agent a request was sent to may answer it, only once, and only within its own account:
the request is read under the account its connection was bound to at ``$connect``, so an agent
can neither see nor answer another account's requests. The reply is written next to the call
(``reply.json``; the body inline when small, else ``reply.body``), then the task token completes
with ``{"request_id", "ok"}``. An ``ok: false`` answer completes it too: the sync decides what
the agent's error means.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fiscal_core.bridge.calls import INLINE_BODY_LIMIT, AgentReply, ReplyError, unb64
from fiscal_core.bridge.messages import AnswerError, Response
from fiscal_core.bridge.objects import CallStore, TaskTokens
from fiscal_core.bridge.sender import answer_output
from fiscal_core.observability import logger
from fiscal_core.storage.agents import (
    AgentRecord,
    AgentRequestRecord,
    AgentRequestRepository,
    ConnectionRecord,
    RequestStatus,
)


class AnswerRefused(Exception):
    """The answer does not belong to a request this agent was sent and has not answered."""


class ReplyDesk:
    """Receives agents' answers."""

    def __init__(
        self,
        requests: AgentRequestRepository,
        calls: CallStore,
        tokens: TaskTokens,
        clock: Callable[[], datetime],
    ) -> None:
        self._requests = requests
        self._calls = calls
        self._tokens = tokens
        self._clock = clock

    def accept(self, connection: ConnectionRecord, agent: AgentRecord, answer: Response) -> AgentReply:
        """Store the answer and complete the workflow's task; AnswerRefused when not this agent's."""
        request = self._requests.find(connection.account_id, answer.id)
        if request is None:
            raise AnswerRefused(f"no request {answer.id} was sent to this agent")
        if request.agent_id != agent.agent_id:
            raise AnswerRefused(f"request {answer.id} was not sent to this agent")
        if request.status != RequestStatus.SENT:
            raise AnswerRefused(f"request {answer.id} is {request.status.lower()}, not awaiting an answer")
        assert request.company_id is not None  # every dispatched request has its company
        reply = self._reply(request, agent, answer)
        self._calls.put_reply(connection.account_id, request.company_id, reply)
        error = reply.error.code if reply.error is not None else None
        if not self._requests.finish(
            connection.account_id, request.request_id, agent_id=agent.agent_id, ok=reply.ok, error=error
        ):
            raise AnswerRefused(f"request {answer.id} was answered already")
        if request.task_token is not None:
            finished = self._requests.get(connection.account_id, request.request_id)
            self._tokens.succeed(request.task_token, answer_output(finished))
        logger.info("agent answer stored", extra={"request_id": request.request_id, "ok": reply.ok})
        return reply

    def _reply(self, request: AgentRequestRecord, agent: AgentRecord, answer: Response) -> AgentReply:
        reply = AgentReply(
            request_id=request.request_id, ok=answer.ok, answered_at=self._clock(), agent_id=agent.agent_id
        )
        if not answer.ok:
            error = answer.error or AnswerError(
                code="internal_error", message="the agent failed without saying why"
            )
            return reply.model_copy(update={"error": ReplyError(**error.model_dump())})
        try:
            return reply.model_copy(update=self._result(request, answer))
        except _Unusable as exc:
            unusable = ReplyError(code=exc.code, message=str(exc), retryable=exc.retryable)
            return reply.model_copy(update={"ok": False, "error": unusable})

    def _result(self, request: AgentRequestRecord, answer: Response) -> dict[str, Any]:
        """The result fields of an ``ok`` answer; _Unusable when they cannot be trusted."""
        if answer.signature_value is not None:
            return {"signature_value_b64": answer.signature_value, "certificate_b64": answer.certificate}
        if answer.status is None:
            raise _Unusable("bad_request", "the answer has neither a signature nor an HTTP status")
        fields: dict[str, Any] = {"status": answer.status, "headers": dict(answer.headers)}
        ids = (request.account_id, request.company_id or "", request.request_id)
        if answer.body_uploaded:
            if answer.body_size is None or answer.body_sha256 is None:
                raise _Unusable("transfer_failed", "the uploaded body came without its size and SHA-256")
            if not self._calls.uploaded_body_matches(*ids, answer.body_size, answer.body_sha256):
                raise _Unusable(
                    "transfer_failed",
                    "the uploaded body is missing or differs from what the agent sent",
                    True,
                )
            return fields
        try:
            body = unb64(answer.body or "")
        except (ValueError, binascii.Error) as exc:
            raise _Unusable("bad_request", "the answer's body is not base64") from exc
        if len(body) <= INLINE_BODY_LIMIT:
            return fields | {"body_b64": answer.body or ""}
        self._calls.put_reply_body(*ids, body)
        return fields


class _Unusable(Exception):
    """An ``ok`` answer whose result cannot be used: stored as the agent's failure instead."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
