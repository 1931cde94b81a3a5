"""What each cStat means for the caller, as tables: a category and what to do next.

Codes and meanings come from docs/sefaz-protocol.md §1.6, §1.7 and §4.3 (NT 2014.002 as
reconstructed from sped-nfe and field reports). A code missing from a table is ``OTHER`` and is
retried with backoff a bounded number of times, then surfaces with its xMotivo: a wrong guess
fails loudly instead of being taken for success or for an empty queue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final


class Category(Enum):
    """What an answer says, independent of the service that gave it."""

    SUCCESS = "success"  # 138 documents found; 128 lot processed
    EMPTY = "empty"  # 137 nothing new
    BLOCKED = "blocked"  # 656 consumo indevido: the CNPJ is blocked for a while
    PAUSED = "paused"  # 108/109 service paused
    CERTIFICATE = "certificate"  # 280-286/290-294: the certificate is refused
    PERMISSION = "permission"  # the certificate's company may not see or act on this
    UNAVAILABLE = "unavailable"  # not found, expired, cancelled or denied: the answer is final
    SCHEMA = "schema"  # the request broke a rule SEFAZ checks: our bug
    NSU = "nsu"  # 589: an NSU beyond what SEFAZ has: our cursor is wrong
    REGISTERED = "registered"  # 135/136 event registered
    DUPLICATE = "duplicate"  # 573 the same event was already registered (by us or someone else)
    DEADLINE = "deadline"  # 596 the event's deadline has passed
    CONFLICT = "conflict"  # 655 ciência after a conclusive manifestação
    RATE_LIMITED = "rate-limited"  # ADN HTTP 429
    OTHER = "other"


class RetryClass(Enum):
    """What the caller does next."""

    NONE = "none"  # a final answer: proceed, nothing to retry
    BACKOFF = "backoff"  # transient: retry later with jittered backoff, a bounded number of times
    WAIT = "wait"  # do not call again for this CNPJ before ``wait_seconds``
    ASK_USER = "ask-user"  # stop: only the user can fix it (certificate, permission, deadline)
    BUG = "bug"  # our request is wrong: stop and alert, resending earns the same rejection


@dataclass(frozen=True, slots=True)
class Rule:
    """How to treat one cStat."""

    category: Category
    retry: RetryClass
    hint: str
    wait_seconds: int = 0
    wait_from_motivo: bool = False  # 656 states its wait in xMotivo ("Tente apos 1 hora")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A classified answer: the code, SEFAZ's words and what to do next.

    ``wait_seconds`` is the least time before calling the same service for the same CNPJ again.
    """

    cstat: str
    xmotivo: str
    category: Category
    retry: RetryClass
    wait_seconds: int
    hint: str

    @property
    def ok(self) -> bool:
        """True when the answer is a success the caller can use (including a duplicate event)."""
        return self.category in {Category.SUCCESS, Category.EMPTY, Category.REGISTERED, Category.DUPLICATE}


ONE_HOUR: Final = 3600

_UNIT_SECONDS: Final = {"segundo": 1, "minuto": 60, "hora": ONE_HOUR}
# "Tente apos 1 hora", "Tente após 2 horas", "tente apos 30 minutos"; accents optional.
_WAIT_IN_MOTIVO: Final = re.compile(r"tente\s+ap[oó]s\s+(\d{1,4})\s+(segundo|minuto|hora)s?", re.IGNORECASE)


def wait_in_motivo(xmotivo: str, default: int = ONE_HOUR) -> int:
    """The wait an xMotivo asks for, in seconds (``default`` when it names none)."""
    match = _WAIT_IN_MOTIVO.search(xmotivo)
    if match is None:
        return default
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def _rules(codes: Iterable[str | range], rule: Rule) -> dict[str, Rule]:
    expanded: list[str] = []
    for code in codes:
        expanded += [str(c) for c in code] if isinstance(code, range) else [code]
    return dict.fromkeys(expanded, rule)


_PAUSED = Rule(Category.PAUSED, RetryClass.BACKOFF, "SEFAZ paused the service; retry later")
_CERTIFICATE = Rule(
    Category.CERTIFICATE,
    RetryClass.ASK_USER,
    "SEFAZ refused the company's certificate (expired, revoked, not ICP-Brasil or broken chain); "
    "upload a valid e-CNPJ",
)
_SCHEMA = Rule(Category.SCHEMA, RetryClass.BUG, "SEFAZ rejected the request's content; report it to support")
_OTHER = Rule(Category.OTHER, RetryClass.BACKOFF, "unexpected answer from SEFAZ; retried, then reported")

# Service-level codes every SEFAZ web service may answer with.
_COMMON: Final = {
    **_rules(["108", "109"], _PAUSED),
    **_rules([range(280, 287)], _CERTIFICATE),
    **_rules(
        ["215", "236", "238", "239", "252", "402", "404", "489", "490", "587", "588", range(614, 620)],
        _SCHEMA,
    ),
    "656": Rule(
        Category.BLOCKED,
        RetryClass.WAIT,
        "SEFAZ blocked queries for this CNPJ (consumo indevido); every call before the wait ends "
        "restarts it. Check that no other system queries with the same CNPJ",
        wait_seconds=ONE_HOUR,
        wait_from_motivo=True,
    ),
    "999": _OTHER,
}

DISTRIBUTION_RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        **_COMMON,
        "138": Rule(Category.SUCCESS, RetryClass.NONE, "documents found"),
        "137": Rule(
            Category.EMPTY,
            RetryClass.WAIT,
            "no new documents; SEFAZ requires an hour before asking again",
            wait_seconds=ONE_HOUR,
        ),
        **_rules(
            ["593", "640", "641"],
            Rule(
                Category.PERMISSION,
                RetryClass.ASK_USER,
                "the certificate's company may not see this document: the CNPJ base differs, or "
                "it is the company's own issued NF-e",
            ),
        ),
        **_rules(
            ["217", "632", "653", "654"],
            Rule(
                Category.UNAVAILABLE,
                RetryClass.NONE,
                "the document is not available: unknown, older than 90 days, cancelled or denied",
            ),
        ),
        "589": Rule(
            Category.NSU, RetryClass.BUG, "the NSU asked for is beyond SEFAZ's last; the cursor is wrong"
        ),
    }
)
"""cStat of ``retDistDFeInt`` (NF-e and CT-e)."""

EVENT_LOT_RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {**_COMMON, "128": Rule(Category.SUCCESS, RetryClass.NONE, "lot processed; see each event")}
)
"""cStat of ``retEnvEvento`` itself: anything but 128 rejects the whole lot."""

EVENT_RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        **_COMMON,
        **_rules(["135", "136"], Rule(Category.REGISTERED, RetryClass.NONE, "manifestação registered")),
        "573": Rule(
            Category.DUPLICATE,
            RetryClass.NONE,
            "this manifestação was already registered (by FiscalMix or another system); the XML "
            "can be downloaded",
        ),
        "596": Rule(Category.DEADLINE, RetryClass.ASK_USER, "the deadline for this manifestação has passed"),
        "655": Rule(
            Category.CONFLICT,
            RetryClass.NONE,
            "a conclusive manifestação was already registered, so Ciência is no longer accepted",
        ),
        **_rules(
            ["575", "631"],
            Rule(
                Category.PERMISSION,
                RetryClass.ASK_USER,
                "the certificate's CNPJ base differs from the NF-e recipient's; use the recipient's e-CNPJ",
            ),
        ),
        **_rules([range(290, 295)], _CERTIFICATE),
        **_rules(["491", "492", "493", "572", "577", "578", "579", "594", "595", "297", "298"], _SCHEMA),
        **_rules(
            ["494", "580"],
            Rule(
                Category.UNAVAILABLE,
                RetryClass.NONE,
                "SEFAZ does not know this NF-e as authorised; check the access key",
            ),
        ),
    }
)
"""cStat of each ``retEvento/infEvento``."""


def classify(rules: Mapping[str, Rule], cstat: str, xmotivo: str) -> Outcome:
    """Classify ``cstat`` with ``rules``; an unknown code is ``OTHER`` (retried, then surfaced)."""
    rule = rules.get(cstat, _OTHER)
    wait = wait_in_motivo(xmotivo, rule.wait_seconds) if rule.wait_from_motivo else rule.wait_seconds
    return Outcome(
        cstat=cstat,
        xmotivo=xmotivo,
        category=rule.category,
        retry=rule.retry,
        wait_seconds=wait,
        hint=rule.hint,
    )
