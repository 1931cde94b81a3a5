"""What the worker does after each distribution answer, as one table keyed by what SEFAZ said.

| SEFAZ said                         | cursor                        | run                        |
|------------------------------------|-------------------------------|----------------------------|
| 138, more to read                  | advance, call again now        | goes on (FETCH or WAIT)    |
| 138 reaching maxNSU, or 137/empty  | advance, next call in 1 h + m  | done: SUCCEEDED            |
| 656 consumo indevido               | next call when SEFAZ says + m  | stopped: WAITING           |
| 108/109 paused                     | next call in a while           | stopped: WAITING           |
| ADN 429 (slow down)                | unchanged                      | waits inside the run       |
| certificate / permission refused   | unchanged, error recorded      | FAILED: the user must act  |
| our request refused (schema, 589)  | unchanged, error recorded      | FAILED: support must act   |
| anything else                      | unchanged                      | step retried (backoff)     |

(m is the safety margin of :class:`~fiscal_core.sync.policy.SyncPolicy`.) The cursor's ultNSU is
always the one SEFAZ returned, never computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from fiscal_core.sefaz.cstat import Category
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.answer import Answer
from fiscal_core.sync.policy import SyncPolicy
from fiscal_core.sync.wording import when


class Action(Enum):
    """What happens to the cursor and the run."""

    RECORD = "record"  # store the documents, advance the cursor to the ultNSU returned
    STOP = "stop"  # leave the NSU, record why, end the run
    WAIT_IN_RUN = "wait-in-run"  # ask again after a short wait, inside the run
    RETRY = "retry"  # raise: the workflow retries the step with backoff


class Wait(Enum):
    """Where the wait before the next call comes from."""

    NONE = "none"
    ANSWER = "answer"  # the outcome's wait_seconds (137: 1 h; 656: as xMotivo says)
    PAUSED = "paused"  # the policy's retry time for a paused service


@dataclass(frozen=True)
class Rule:
    """One row of the table."""

    action: Action
    status: RunStatus | None = None
    reason: str | None = None  # the cursor's block_reason, a code
    wait: Wait = Wait.NONE
    template: str = ""  # {source} {cstat} {xmotivo} {when} {company}


_USER_CERTIFICATE = (
    "{source} refused the certificate of {company}: {cstat} {xmotivo}. Upload a valid e-CNPJ A1 "
    "certificate of this company (Settings → Certificates); the sync resumes on its next run."
)
_SUPPORT = (
    "{source} refused FiscalMix's request for {company}: {cstat} {xmotivo}. This is a problem on "
    "FiscalMix's side, not yours: contact support with this message."
)
RULES: Final[Mapping[Category, Rule]] = {
    Category.SUCCESS: Rule(Action.RECORD),
    Category.EMPTY: Rule(
        Action.RECORD, RunStatus.SUCCEEDED, "NO_NEW_DOCUMENTS", Wait.ANSWER,
        "{source} has no new documents; the next query is allowed at {when}.",
    ),
    Category.BLOCKED: Rule(
        Action.STOP, RunStatus.WAITING, "BLOCKED_656", Wait.ANSWER,
        "{source} blocked queries for this CNPJ ({cstat} {xmotivo}); FiscalMix will not ask again "
        "before {when}. If this happens again, check that no other system (an ERP, another "
        "accounting platform) queries SEFAZ with this CNPJ.",
    ),
    Category.PAUSED: Rule(
        Action.STOP, RunStatus.WAITING, "SERVICE_PAUSED", Wait.PAUSED,
        "{source} paused the service ({cstat} {xmotivo}); FiscalMix will try again at {when}.",
    ),
    Category.RATE_LIMITED: Rule(
        Action.WAIT_IN_RUN, RunStatus.WAITING, "RATE_LIMITED", Wait.ANSWER,
        "{source} asked FiscalMix to slow down ({cstat}); the next query is at {when}.",
    ),
    Category.CERTIFICATE: Rule(Action.STOP, RunStatus.FAILED, template=_USER_CERTIFICATE),
    Category.PERMISSION: Rule(
        Action.STOP, RunStatus.FAILED,
        template="{source} refused to show {company}'s documents with its certificate: {cstat} "
        "{xmotivo}. Use an e-CNPJ of this same company (the first 8 digits of both CNPJs must match).",
    ),
    Category.SCHEMA: Rule(Action.STOP, RunStatus.FAILED, template=_SUPPORT),
    Category.NSU: Rule(Action.STOP, RunStatus.FAILED, template=_SUPPORT),
    Category.UNAVAILABLE: Rule(Action.STOP, RunStatus.FAILED, template=_SUPPORT),
    Category.OTHER: Rule(Action.RETRY),
}  # fmt: skip
_CAUGHT_UP: Final = Rule(
    Action.RECORD, RunStatus.SUCCEEDED, "CAUGHT_UP", Wait.ANSWER,
    "{source} has no new documents; the next query is allowed at {when}.",
)  # fmt: skip
_UNEXPECTED: Final = Rule(Action.STOP, RunStatus.FAILED, template=_SUPPORT)


@dataclass(frozen=True)
class Decision:
    """The row that applies to an answer, with its times and words resolved."""

    action: Action
    status: RunStatus | None  # None: the run goes on
    reason: str | None
    next_allowed_at: datetime | None  # when the cursor may call again (None: at once)
    message: str | None

    @property
    def ends_run(self) -> bool:
        """True when the run stops after this answer."""
        return self.status is not None and self.action is not Action.WAIT_IN_RUN


def decide(answer: Answer, policy: SyncPolicy, now: datetime, *, source: str, company: str) -> Decision:
    """The decision for ``answer``, received now for ``company`` from ``source``."""
    outcome = answer.outcome
    if outcome.category is Category.SUCCESS and answer.caught_up:
        rule = _CAUGHT_UP
    else:
        rule = RULES.get(outcome.category, _UNEXPECTED)
    waits = {
        Wait.NONE: None,
        Wait.ANSWER: timedelta(seconds=outcome.wait_seconds),
        Wait.PAUSED: policy.paused_retry,
    }
    wait = waits[rule.wait]
    if rule.action is Action.WAIT_IN_RUN and wait is not None and wait > policy.longest_wait_in_run:
        rule = Rule(Action.STOP, rule.status, rule.reason, rule.wait, rule.template)
    # The margin covers clock skew with SEFAZ; an in-run wait is SEFAZ's own figure.
    margin = policy.wait_margin if rule.action is not Action.WAIT_IN_RUN else timedelta(0)
    next_allowed_at = None if wait is None else now + wait + margin
    message = rule.template.format(
        source=source,
        cstat=outcome.cstat,
        xmotivo=outcome.xmotivo,
        when=when(next_allowed_at) if next_allowed_at else "",
        company=company,
    )
    # Sentences may begin with the source ("the national NFS-e system..."): capitalise them.
    return Decision(
        rule.action, rule.status, rule.reason, next_allowed_at, message[:1].upper() + message[1:] or None
    )
