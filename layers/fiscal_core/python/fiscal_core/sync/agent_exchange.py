"""An A3 step's calls to its on-prem agent, made by stopping and replaying the step.

A Lambda cannot wait minutes for an agent, and an A3 key never leaves its token, so a step of an
A3 company runs as far as it can: at its first call without an answer it stops, and the workflow
sends the pending calls to the agent and waits on a task token for each (fiscal_core.bridge).
Then the step runs again from the start, and :class:`AgentCallBook` hands back, in order, the
answers to the calls it had made. The step is deterministic given those answers and its pinned
clock (``AgentWait.started_at``: events and lot ids are built at the same instant, and PKCS#1 v1.5
signatures are deterministic), so it makes the same calls and reaches the point where it stopped.
A call is matched by its digest, each recorded answer used once and in order (a retried exchange
gets the next answer, not the failed one again); a call never recorded is asked anew, and
recorded calls a replay did not make again (the world moved meanwhile) are dropped.

Signatures are collected rather than awaited one by one: the signer returns a placeholder and
notes the call, so a lot of 20 events costs one round of 20 signatures in parallel, then one
round for the exchange. A placeholder never leaves the cloud: an exchange refuses to start while
signatures are pending, and the step stops there.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pydantic import ValidationError

from fiscal_core.bridge.calls import (
    INLINE_BODY_LIMIT,
    AgentCall,
    AgentReply,
    CallAction,
    b64,
    call_body_key,
    call_key,
    exchange_digest,
    reply_body_key,
    reply_key,
    signature_digest,
    unb64,
)
from fiscal_core.sefaz.errors import ConnectionFailed, MalformedResponse, SefazError, Timeout, TlsFailure
from fiscal_core.sefaz.transport import HttpResponse
from fiscal_core.sync.contract import AgentWait, Next, SyncState, Task
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError
from fiscal_core.sync.objects import ObjectStore

JSON: Final = "application/json"
OCTETS: Final = "application/octet-stream"
# Agent error codes (agent/PROTOCOL.md) a person at the agent's machine must fix.
TOKEN_PROBLEMS: Final = frozenset(
    {"no_module", "wrong_pin", "token_locked", "pin_expired", "certificate_not_found", "not_paired",
     "host_not_allowed"}
)  # fmt: skip
SIGN_ATTEMPTS: Final = 3  # a signature the token failed for a passing reason is asked again


class AgentAnswerNeeded(Exception):
    """The step reached a call whose answer is not in yet; the worker answers Next.AGENT.

    Deliberately not a FiscalMixError: nothing between the call and the worker may handle it.
    """


@dataclass(frozen=True)
class AgentTarget:
    """Whose token the calls go to."""

    account_id: str
    company_id: str
    certificate_id: str
    fingerprint: str
    who: str  # the company in words, for messages


@dataclass
class AgentCallBook:
    """The agent calls of one step: replayed from stored answers, or recorded and left pending."""

    objects: ObjectStore
    target: AgentTarget
    started_at: datetime
    timeout_seconds: int
    recorded: list[str] = field(default_factory=list)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    # Tells the bridge a call exists (its request record), once the call is in S3.
    register: Callable[[AgentCall], None] = lambda call: None
    made: list[str] = field(default_factory=list)  # replayed or new, in the order of this run
    pending: list[str] = field(default_factory=list)
    _calls: dict[str, AgentCall] = field(default_factory=dict)
    _by_digest: dict[str, deque[str]] | None = None

    @classmethod
    def for_step(
        cls,
        objects: ObjectStore,
        target: AgentTarget,
        wait: AgentWait | None,
        now: datetime,
        timeout_seconds: int,
        register: Callable[[AgentCall], None] = lambda call: None,
    ) -> AgentCallBook:
        """The book of a step: empty on a first run, the recorded calls on a replay."""
        if wait is None:
            return cls(objects, target, now, timeout_seconds, register=register)
        recorded = list(wait.calls)
        return cls(objects, target, wait.started_at, timeout_seconds, recorded=recorded, register=register)

    def clock(self) -> datetime:
        """The step's pinned time, for everything it signs."""
        return self.started_at

    def wait_state(self, state: SyncState, *, queries: Mapping[str, bool] | None = None) -> SyncState:
        """The state that asks the workflow to send the pending calls and run the step again.

        ``queries``: the step's single queries so far (``AgentWait.queries``).
        """
        self._remove(self._stale())
        wait = AgentWait(
            started_at=self.started_at,
            calls=list(self.made),
            pending=list(self.pending),
            timeout_seconds=self.timeout_seconds,
            queries=dict(queries or {}),
        )
        return state.model_copy(
            update={"task": Task.STEP, "next": Next.AGENT, "wait_seconds": 0, "agent": wait}
        )

    def discard(self) -> None:
        """Remove the calls and answers of a step that is done: they are never replayed again.

        They hold copies of what SEFAZ sent, which the documents' own objects keep; a removal that
        fails leaves an orphan copy behind, never a missing document.
        """
        self._remove([*self.made, *self._stale()])

    def _stale(self) -> list[str]:
        """Recorded calls this run did not make again (the world moved): never replayed."""
        made = set(self.made)
        return [request_id for request_id in self.recorded if request_id not in made]

    def _remove(self, request_ids: list[str]) -> None:
        for request_id in request_ids:
            for kind in (call_key, call_body_key, reply_key, reply_body_key):
                self.objects.delete(self._key(kind, request_id))

    # -- the two kinds of call -------------------------------------------------------------

    def exchange(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        """A SEFAZ/ADN HTTPS exchange made by the agent with the token's key."""
        if self.pending:
            # Signatures it would carry are placeholders until the agent answers them.
            raise AgentAnswerNeeded(f"{len(self.pending)} signature(s) pending")
        digest = exchange_digest(method, url, body)

        def build(request_id: str) -> AgentCall:
            inline = len(body) <= INLINE_BODY_LIMIT
            if not inline:
                self.objects.put(self._key(call_body_key, request_id), body, OCTETS)
            return self._call(
                request_id, CallAction.SEFAZ_REQUEST, digest,
                method=method, url=url, headers=dict(headers), body_b64=b64(body) if inline else None,
            )  # fmt: skip

        reply = self._take(digest, build)
        if reply is None:
            raise AgentAnswerNeeded(f"exchange with {url}")
        return self._response(url, reply)

    def sign(self, signed_info: bytes, certificate: x509.Certificate) -> bytes:
        """The token's PKCS#1 v1.5 SHA-1 signature of ``signed_info`` (a placeholder while pending)."""
        digest = signature_digest(signed_info)
        for _ in range(SIGN_ATTEMPTS):
            reply = self._take(
                digest,
                lambda request_id: self._call(
                    request_id, CallAction.SIGN_XML, digest, signed_info_b64=b64(signed_info)
                ),
            )
            if reply is None:
                return _placeholder(certificate)
            if reply.ok and reply.signature_value_b64:
                return self._checked_signature(reply, signed_info, certificate)
            error = reply.error
            if error is None or not error.retryable:
                raise self._problem(reply)
        raise RetryableSyncError(
            f"The token of {self.target.who} could not sign after {SIGN_ATTEMPTS} tries."
        )

    # -- replay and recording --------------------------------------------------------------

    def _take(self, digest: str, build: Callable[[str], AgentCall]) -> AgentReply | None:
        """The answer to the same call made before, or None once it is recorded as pending."""
        earlier = self._unused().get(digest)
        if earlier:
            request_id = earlier.popleft()
            self.made.append(request_id)
            reply = self._load_reply(request_id)
            if reply is None:  # sent, not answered (the wait ended some other way): ask again
                self.pending.append(request_id)
            return reply
        request_id = self.new_id()
        call = build(request_id)
        self.objects.put(self._key(call_key, request_id), call.model_dump_json().encode(), JSON)
        self.register(call)
        self._calls[request_id] = call
        self.made.append(request_id)
        self.pending.append(request_id)
        return None

    def _unused(self) -> dict[str, deque[str]]:
        """The recorded calls not yet replayed, by digest, oldest first."""
        if self._by_digest is None:
            self._by_digest = {}
            for request_id in self.recorded:
                self._by_digest.setdefault(self._load_call(request_id).digest, deque()).append(request_id)
        return self._by_digest

    def _call(self, request_id: str, action: CallAction, digest: str, **fields: object) -> AgentCall:
        t = self.target
        return AgentCall.model_validate(
            {
                "request_id": request_id, "account_id": t.account_id, "company_id": t.company_id,
                "certificate_id": t.certificate_id, "fingerprint": t.fingerprint, "action": action,
                "created_at": self.started_at, "digest": digest, **fields,
            }
        )  # fmt: skip

    def _load_call(self, request_id: str) -> AgentCall:
        if request_id not in self._calls:
            raw = self.objects.get(self._key(call_key, request_id))
            if raw is None:
                raise RetryableSyncError(f"the agent call {request_id} of {self.target.who} is missing")
            self._calls[request_id] = AgentCall.model_validate_json(raw)
        return self._calls[request_id]

    def _load_reply(self, request_id: str) -> AgentReply | None:
        raw = self.objects.get(self._key(reply_key, request_id))
        if raw is None:
            return None
        try:
            return AgentReply.model_validate_json(raw)
        except ValidationError as exc:
            raise CredentialProblem(
                f"The FiscalMix agent of {self.target.who} answered request {request_id} with something "
                f"FiscalMix cannot read ({exc.error_count()} problem(s)); update the agent."
            ) from exc

    def _key(self, kind: Callable[[str, str, str], str], request_id: str) -> str:
        return kind(self.target.account_id, self.target.company_id, request_id)

    # -- reading answers -------------------------------------------------------------------

    def _response(self, url: str, reply: AgentReply) -> HttpResponse:
        if not reply.ok:
            raise self._problem(reply, url)
        if reply.status is None:
            raise MalformedResponse(f"the agent's answer for {url} has no HTTP status")
        if reply.body_b64 is not None:
            body = unb64(reply.body_b64)
        else:
            stored = self.objects.get(self._key(reply_body_key, reply.request_id))
            if stored is None:
                raise ConnectionFailed(url, "the agent said it uploaded the answer, but it is not there")
            body = stored
        headers = {k.lower(): v for k, v in reply.headers.items()}
        return HttpResponse(reply.status, headers, body)

    def _checked_signature(
        self, reply: AgentReply, signed_info: bytes, certificate: x509.Certificate
    ) -> bytes:
        """The signature, once it verifies with the certificate FiscalMix knows for this token."""
        assert reply.signature_value_b64 is not None
        signature = unb64(reply.signature_value_b64)
        key = certificate.public_key()
        try:
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            key.verify(signature, signed_info, PKCS1v15(), hashes.SHA1())  # noqa: S303 - SEFAZ's rsa-sha1
        except InvalidSignature:
            raise CredentialProblem(
                f"The FiscalMix agent of {self.target.who} signed with a key that is not the A3 "
                f"certificate's ({self.target.fingerprint[:16]}…): check which token is plugged in."
            ) from None
        return signature

    def _problem(self, reply: AgentReply, url: str | None = None) -> Exception:
        """The exception that says what the agent's failure means for the step."""
        error = reply.error
        code = error.code if error else "internal_error"
        message = error.message if error else "the agent gave no reason"
        where = url or "the token"
        if code in TOKEN_PROBLEMS:
            return CredentialProblem(
                f"The FiscalMix agent could not use the A3 certificate of {self.target.who}: {message}"
            )
        if code == "untrusted_server":
            return TlsFailure(where, f"the agent does not trust the server: {message}")
        if code == "timeout":
            return Timeout(where, f"the agent's exchange timed out: {message}")
        if error is not None and error.retryable:
            return ConnectionFailed(where, f"the agent could not complete the exchange: {message}")
        return AgentRefused(where, f"the agent refused the request ({code}): {message}")


class AgentRefused(SefazError):
    """The agent answered the request with an error that resending will not change."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def _placeholder(certificate: x509.Certificate) -> bytes:
    """Zero bytes as long as a real signature, so what is built around it has its final shape."""
    key = certificate.public_key()
    size = key.key_size if isinstance(key, rsa.RSAPublicKey) else 2048
    return bytes((size + 7) // 8)


@dataclass(frozen=True)
class AgentTransport:
    """A :class:`~fiscal_core.sefaz.transport.Transport` whose exchanges the agent makes."""

    book: AgentCallBook

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """POST through the agent."""
        return self.book.exchange("POST", url, headers, body)

    def get(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """GET through the agent."""
        return self.book.exchange("GET", url, headers, b"")


@dataclass(frozen=True)
class AgentSigner:
    """A :class:`~fiscal_core.signing.Signer` whose key is on the agent's token."""

    book: AgentCallBook
    certificate: x509.Certificate

    def sign_pkcs1v15_sha1(self, data: bytes) -> bytes:
        """The token's signature of the canonical SignedInfo ``data``."""
        return self.book.sign(data, self.certificate)
