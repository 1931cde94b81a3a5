"""The A3 bridge's records: paired agents, their live connections, pairing codes, requests.

Every change of state is a conditional write, so two handlers racing (a ``$disconnect`` late
behind the next ``$connect``, two answers to one request, two users claiming one code) can never
both win. Secrets are never stored: an agent's credential and a pairing code are kept as their
SHA-256 only (fiscal_core.bridge.secrets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from fiscal_core.storage import crud
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.errors import RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.mapping import item_values, record_from
from fiscal_core.storage.models import Agent, AgentConnection, AgentRequest, Certificate, PairingCode

PAIRING_LIFETIME: Final = timedelta(minutes=10)
# API Gateway closes a connection after 10 idle minutes; agents beat every 4.
CONNECTION_TTL: Final = timedelta(minutes=15)
# A connection whose last heartbeat is older than this is not counted as online, even if its
# item lingers (DynamoDB's TTL deletes within days, not seconds).
ONLINE_WINDOW: Final = timedelta(minutes=11)
# Answers are awaited for minutes; the record is kept a while longer for support.
REQUEST_TTL: Final = timedelta(days=2)

Clock = Callable[[], datetime]


class AgentStatusValue(StrEnum):
    """Whether an agent may still connect."""

    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


class PairingStatus(StrEnum):
    """A pairing code shown by an agent: waiting for a user, or used."""

    PENDING = "PENDING"
    CLAIMED = "CLAIMED"


class RequestStatus(StrEnum):
    """Where a request for an agent is."""

    PENDING = "PENDING"  # created by the sync, not dispatched yet
    WAITING = "WAITING"  # dispatched, but no agent of the company was online
    SENT = "SENT"  # posted to an agent's connection
    SUCCEEDED = "SUCCEEDED"  # the agent answered ok
    FAILED = "FAILED"  # the agent answered ok: false (the answer is still delivered)


OPEN_REQUEST_STATUSES: Final = (RequestStatus.PENDING, RequestStatus.WAITING, RequestStatus.SENT)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A paired agent; ``credential_hash`` is the only trace of its credential."""

    account_id: str
    agent_id: str
    credential_hash: str
    status: str
    paired_by: str
    paired_at: datetime
    company_ids: list[str] = field(default_factory=list)
    certificate_ids: list[str] = field(default_factory=list)
    machine: str | None = None
    agent_version: str | None = None
    token_ready: bool | None = None
    paired_from_ip: str | None = None
    last_seen_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True while the agent may connect and be sent requests."""
        return self.status == AgentStatusValue.ACTIVE


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """An agent's live WebSocket connection, bound to its account at ``$connect``."""

    account_id: str
    agent_id: str
    connection_id: str
    connected_at: datetime
    last_heartbeat_at: datetime
    company_ids: list[str] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    hello_at: datetime | None = None
    token_ready: bool | None = None
    agent_version: str | None = None
    machine: str | None = None

    def online(self, now: datetime) -> bool:
        """Whether the agent beat recently enough to be counted as reachable."""
        return now - self.last_heartbeat_at < ONLINE_WINDOW


@dataclass(frozen=True, slots=True)
class PairingRecord:
    """A pairing code's state: the agent's hashed credential and where it waits."""

    code_hash: str
    agent_id: str
    credential_hash: str
    connection_id: str
    status: str
    created_at: datetime
    valid_until: datetime
    source_ip: str | None = None
    user_agent: str | None = None
    account_id: str | None = None
    company_id: str | None = None
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class AgentRequestRecord:
    """A request for an agent (its body is ``call.json`` in the documents bucket)."""

    account_id: str
    request_id: str
    action: str
    status: str
    created_at: datetime
    updated_at: datetime
    company_id: str | None = None
    certificate_id: str | None = None
    fingerprint: str | None = None
    agent_id: str | None = None
    connection_id: str | None = None
    task_token: str | None = None
    error: str | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None


class PairingRefused(Exception):
    """A pairing code cannot be claimed; ``reason`` is ``unknown``, ``expired`` or ``used``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"pairing code {reason}")
        self.reason = reason


class AgentRepository:
    """Paired agents of an account."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def create(self, agent: AgentRecord) -> None:
        """Store a newly paired agent; RecordExists if its id is taken."""
        crud.create(Agent(agent.account_id, agent.agent_id, **_values(agent)), f"agent {agent.agent_id}")

    def get(self, account_id: str, agent_id: str) -> AgentRecord:
        """An agent of the account, or RecordNotFound."""
        return record_from(crud.get(Agent, account_id, agent_id, f"agent {agent_id}"), AgentRecord)

    def find(self, account_id: str, agent_id: str) -> AgentRecord | None:
        """An agent of the account, or None."""
        try:
            return self.get(account_id, agent_id)
        except RecordNotFound:
            return None

    def for_account(self, account_id: str) -> list[AgentRecord]:
        """Every agent ever paired in the account, revoked ones included."""
        with storage_call("list an account's agents"):
            return [record_from(i, AgentRecord) for i in Agent.query(account_id, consistent_read=True)]

    def for_company(self, account_id: str, company_id: str) -> list[AgentRecord]:
        """The agents paired for a company, newest pairing first."""
        agents = [a for a in self.for_account(account_id) if company_id in a.company_ids]
        return sorted(agents, key=lambda a: a.paired_at, reverse=True)

    def by_credential(self, credential_hash: str) -> AgentRecord | None:
        """The agent holding this credential (read again from the table), or None."""
        with storage_call("find an agent by credential"):
            refs = list(Agent.by_credential.query(credential_hash, limit=2))
        if len(refs) != 1:
            return None  # two agents with one credential cannot happen: 256 random bits each
        return self.find(refs[0].account_id, refs[0].agent_id)

    def revoke(self, account_id: str, agent_id: str) -> bool:
        """Mark the agent REVOKED; False when it already was. RecordNotFound if absent."""
        item = Agent(account_id, agent_id)
        with storage_call("revoke an agent"):
            try:
                item.update(
                    [Agent.status.set(AgentStatusValue.REVOKED), Agent.revoked_at.set(self._clock())],
                    condition=Agent.account_id.exists() & (Agent.status == AgentStatusValue.ACTIVE),
                )
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                self.get(account_id, agent_id)  # RecordNotFound when it never existed
                return False
        return True

    def seen(
        self,
        account_id: str,
        agent_id: str,
        *,
        agent_version: str | None = None,
        machine: str | None = None,
        token_ready: bool | None = None,
        certificate_ids: Sequence[str] | None = None,
    ) -> None:
        """Record that the agent was heard from now, with whatever it reported."""
        actions: list[Action] = [Agent.last_seen_at.set(self._clock())]
        if agent_version is not None:
            actions.append(Agent.agent_version.set(agent_version))
        if machine is not None:
            actions.append(Agent.machine.set(machine))
        if token_ready is not None:
            actions.append(Agent.token_ready.set(token_ready))
        if certificate_ids is not None:
            actions.append(Agent.certificate_ids.set(list(certificate_ids)))  # type: ignore[arg-type]
        with storage_call("record an agent's activity"):
            try:
                Agent(account_id, agent_id).update(actions, condition=Agent.account_id.exists())
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise


class A3CertificateBinding:
    """Which agent's token holds an A3 certificate: the one that last reported it."""

    def bind(self, account_id: str, certificate_id: str, agent_id: str, token_label: str | None) -> None:
        """Point an A3 certificate at ``agent_id``; RecordNotFound if the certificate is absent."""
        item = Certificate(account_id, certificate_id)
        with storage_call("bind a certificate to its agent"):
            try:
                label = (
                    Certificate.token_label.remove()
                    if token_label is None
                    else Certificate.token_label.set(token_label)
                )
                item.update(
                    [Certificate.agent_id.set(agent_id), label],
                    condition=Certificate.account_id.exists() & (Certificate.kind == "A3"),
                )
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"A3 certificate {certificate_id} was not found") from exc


class ConnectionRepository:
    """Agents' live connections: one per agent, found by the connection id events carry."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def put(self, account_id: str, agent_id: str, connection_id: str, company_ids: Sequence[str]) -> None:
        """Bind a new connection to the agent, replacing any previous one."""
        now = self._clock()
        item = AgentConnection(
            account_id, agent_id, connection_id=connection_id, company_ids=list(company_ids),
            connected_at=now, last_heartbeat_at=now, expires_at=now + CONNECTION_TTL,
        )  # fmt: skip
        with storage_call("record an agent's connection"):
            item.save()

    def by_connection_id(self, connection_id: str) -> ConnectionRecord | None:
        """The connection with this id, or None (never bound, replaced or gone)."""
        with storage_call("find a connection"):
            items = list(AgentConnection.by_connection_id.query(connection_id, limit=2))
        live = [i for i in items if i.connection_id == connection_id]
        return record_from(live[0], ConnectionRecord) if live else None

    def for_agent(self, account_id: str, agent_id: str) -> ConnectionRecord | None:
        """The agent's current connection, or None."""
        try:
            item = crud.get(AgentConnection, account_id, agent_id, f"connection of agent {agent_id}")
        except RecordNotFound:
            return None
        return record_from(item, ConnectionRecord)

    def for_account(self, account_id: str) -> list[ConnectionRecord]:
        """Every connection item of the account (some may be stale; see ``online``)."""
        with storage_call("list an account's connections"):
            items = AgentConnection.query(account_id, consistent_read=True)
            return [record_from(i, ConnectionRecord) for i in items]

    def delete(self, account_id: str, agent_id: str, connection_id: str) -> bool:
        """Forget the connection if it is still the agent's current one; False otherwise.

        The condition matters: a ``$disconnect`` arriving after the agent's next ``$connect``
        must not delete the new connection.
        """
        with storage_call("delete a connection"):
            try:
                AgentConnection(account_id, agent_id).delete(
                    condition=AgentConnection.connection_id == connection_id
                )
            except DeleteError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True

    def heartbeat(self, connection: ConnectionRecord, *, token_ready: bool | None = None) -> bool:
        """Push the connection's last heartbeat and TTL; False if it is no longer current."""
        now = self._clock()
        actions: list[Action] = [
            AgentConnection.last_heartbeat_at.set(now),
            AgentConnection.expires_at.set(now + CONNECTION_TTL),
        ]
        if token_ready is not None:
            actions.append(AgentConnection.token_ready.set(token_ready))
        return self._update(connection, actions)

    def hello(
        self,
        connection: ConnectionRecord,
        *,
        agent_version: str,
        machine: str,
        fingerprints: Sequence[str],
        token_ready: bool,
    ) -> bool:
        """Record what the agent said in ``hello``; False if the connection is no longer current."""
        now = self._clock()
        return self._update(connection, [
            AgentConnection.hello_at.set(now), AgentConnection.last_heartbeat_at.set(now),
            AgentConnection.expires_at.set(now + CONNECTION_TTL),
            AgentConnection.agent_version.set(agent_version), AgentConnection.machine.set(machine),
            AgentConnection.fingerprints.set(list(fingerprints)),  # type: ignore[arg-type]
            AgentConnection.token_ready.set(token_ready),
        ])  # fmt: skip

    def _update(self, connection: ConnectionRecord, actions: list[Action]) -> bool:
        item = AgentConnection(connection.account_id, connection.agent_id)
        with storage_call("update a connection"):
            try:
                item.update(actions, condition=AgentConnection.connection_id == connection.connection_id)
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True


class PairingRepository:
    """Pending pairings, keyed by the code's hash, claimed at most once."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def record_pending(
        self,
        code_hash: str,
        *,
        agent_id: str,
        credential_hash: str,
        connection_id: str,
        source_ip: str | None,
        user_agent: str | None,
    ) -> PairingRecord | None:
        """Record that an agent waits with this code on ``connection_id``; None when refused.

        The same agent (same credential) reconnecting with its code while the code is still
        pending moves it to the new connection, keeping its expiry; a code used, expired, or
        shown by another credential is refused.
        """
        now = self._clock()
        existing = self.get(code_hash)
        if existing is None:
            item = PairingCode(
                code_hash, agent_id=agent_id, credential_hash=credential_hash,
                connection_id=connection_id, source_ip=source_ip, user_agent=user_agent,
                status=PairingStatus.PENDING, created_at=now, valid_until=now + PAIRING_LIFETIME,
                expires_at=now + PAIRING_LIFETIME + timedelta(days=1),
            )  # fmt: skip
            with storage_call("record a pairing code"):
                try:
                    item.save(condition=PairingCode.code_hash.does_not_exist())
                except PutError as exc:
                    if not is_condition_failure(exc):
                        raise
                    return None
            return record_from(item, PairingRecord)
        if existing.credential_hash != credential_hash:
            return None
        condition = (
            (PairingCode.status == PairingStatus.PENDING)
            & (PairingCode.credential_hash == credential_hash)
            & (PairingCode.valid_until > now)
        )
        item = PairingCode(code_hash)
        with storage_call("move a pairing code to a new connection"):
            try:
                ip = (
                    PairingCode.source_ip.remove()
                    if source_ip is None
                    else PairingCode.source_ip.set(source_ip)
                )
                item.update([PairingCode.connection_id.set(connection_id), ip], condition=condition)
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                return None
        return self.get(code_hash)

    def get(self, code_hash: str) -> PairingRecord | None:
        """The pairing recorded under this code hash, or None."""
        try:
            item = crud.get(PairingCode, code_hash, None, "pairing code")
        except RecordNotFound:
            return None
        return record_from(item, PairingRecord)

    def claim(self, code_hash: str, *, account_id: str, company_id: str, user_id: str) -> PairingRecord:
        """Claim a pending, unexpired code for a company, once; PairingRefused otherwise."""
        now = self._clock()
        pending = self.get(code_hash)
        if pending is None:
            raise PairingRefused("unknown")
        if pending.status != PairingStatus.PENDING:
            raise PairingRefused("used")
        if pending.valid_until <= now:
            raise PairingRefused("expired")
        condition = (PairingCode.status == PairingStatus.PENDING) & (PairingCode.valid_until > now)
        with storage_call("claim a pairing code"):
            try:
                PairingCode(code_hash).update(
                    [
                        PairingCode.status.set(PairingStatus.CLAIMED),
                        PairingCode.account_id.set(account_id),
                        PairingCode.company_id.set(company_id),
                        PairingCode.claimed_by.set(user_id),
                    ],
                    condition=condition,
                )
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise PairingRefused("used") from exc
        claimed = self.get(code_hash)
        assert claimed is not None
        return claimed


class AgentRequestRepository:
    """Requests for agents: created by the sync, moved along by the bridge."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def create(
        self,
        account_id: str,
        request_id: str,
        company_id: str,
        certificate_id: str,
        action: str,
        *,
        fingerprint: str | None = None,
    ) -> AgentRequestRecord:
        """Record a new PENDING request, or return the one already recorded under this id.

        Idempotent, so a sync step that runs again may create its requests again.
        """
        now = self._clock()
        item = AgentRequest(
            account_id, request_id, company_id=company_id, certificate_id=certificate_id,
            fingerprint=fingerprint or None, action=action, status=RequestStatus.PENDING,
            created_at=now, updated_at=now, expires_at=now + REQUEST_TTL,
        )  # fmt: skip
        with storage_call("create an agent request"):
            try:
                item.save(condition=AgentRequest.request_id.does_not_exist())
            except PutError as exc:
                if not is_condition_failure(exc):
                    raise
                return self.get(account_id, request_id)
        return record_from(item, AgentRequestRecord)

    def get(self, account_id: str, request_id: str) -> AgentRequestRecord:
        """A request of the account, or RecordNotFound."""
        item = crud.get(AgentRequest, account_id, request_id, f"agent request {request_id}")
        return record_from(item, AgentRequestRecord)

    def find(self, account_id: str, request_id: str) -> AgentRequestRecord | None:
        """A request of the account, or None."""
        try:
            return self.get(account_id, request_id)
        except RecordNotFound:
            return None

    def mark_waiting(self, account_id: str, request_id: str, company_id: str, task_token: str) -> bool:
        """No agent is online: keep the task token until one says hello; False if already answered."""
        return self._move(account_id, request_id, _open(), [
            AgentRequest.status.set(RequestStatus.WAITING), AgentRequest.task_token.set(task_token),
            AgentRequest.waiting_key.set(company_key(account_id, company_id)),
        ])  # fmt: skip

    def mark_sent(
        self,
        account_id: str,
        request_id: str,
        *,
        agent_id: str,
        connection_id: str,
        task_token: str | None = None,
        only_if_waiting: bool = False,
    ) -> bool:
        """Record that the request goes to this agent's connection; False if it was answered meanwhile.

        ``only_if_waiting`` (hello sending a waiting request) loses to a dispatch that got there first.
        """
        condition = (AgentRequest.status == RequestStatus.WAITING) if only_if_waiting else _open()
        actions: list[Action] = [
            AgentRequest.status.set(RequestStatus.SENT), AgentRequest.agent_id.set(agent_id),
            AgentRequest.connection_id.set(connection_id), AgentRequest.sent_at.set(self._clock()),
            AgentRequest.waiting_key.remove(),
        ]  # fmt: skip
        if task_token is not None:
            actions.append(AgentRequest.task_token.set(task_token))
        return self._move(account_id, request_id, condition, actions)

    def back_to_waiting(self, account_id: str, request_id: str, company_id: str, agent_id: str) -> bool:
        """The post to the agent failed: wait again for an agent of the company."""
        condition = (AgentRequest.status == RequestStatus.SENT) & (AgentRequest.agent_id == agent_id)
        return self._move(account_id, request_id, condition, [
            AgentRequest.status.set(RequestStatus.WAITING),
            AgentRequest.waiting_key.set(company_key(account_id, company_id)),
        ])  # fmt: skip

    def finish(
        self, account_id: str, request_id: str, *, agent_id: str, ok: bool, error: str | None = None
    ) -> bool:
        """Record the agent's answer, once: only a SENT request, only from the agent it went to."""
        now = self._clock()
        condition = (AgentRequest.status == RequestStatus.SENT) & (AgentRequest.agent_id == agent_id)
        actions: list[Action] = [
            AgentRequest.status.set(RequestStatus.SUCCEEDED if ok else RequestStatus.FAILED),
            AgentRequest.answered_at.set(now),
        ]
        if error is not None:
            actions.append(AgentRequest.error.set(error))
        return self._move(account_id, request_id, condition, actions)

    def waiting_for_company(self, account_id: str, company_id: str) -> list[AgentRequestRecord]:
        """The requests waiting for an agent of the company, oldest first."""
        with storage_call("list waiting agent requests"):
            refs = list(AgentRequest.waiting.query(company_key(account_id, company_id)))
        found = (self.find(r.account_id, r.request_id) for r in refs)
        return [r for r in found if r is not None and r.status == RequestStatus.WAITING]

    def _move(self, account_id: str, request_id: str, condition: Condition, actions: list[Action]) -> bool:
        actions = [*actions, AgentRequest.updated_at.set(self._clock())]
        with storage_call("update an agent request"):
            try:
                AgentRequest(account_id, request_id).update(
                    actions, condition=AgentRequest.request_id.exists() & condition
                )
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True


def _open() -> Condition:
    return AgentRequest.status.is_in(*OPEN_REQUEST_STATUSES)


def _values(agent: AgentRecord) -> dict[str, Any]:
    values = item_values(agent)
    del values["account_id"], values["agent_id"]
    return values
