"""The cStat tables: every documented code lands in its category with the right next step."""

from __future__ import annotations

import pytest

from fiscal_core.sefaz.cstat import (
    DISTRIBUTION_RULES,
    EVENT_LOT_RULES,
    EVENT_RULES,
    Category,
    Outcome,
    RetryClass,
    classify,
    wait_in_motivo,
)

DISTRIBUTION_EXPECTED = {
    "138": (Category.SUCCESS, RetryClass.NONE),
    "137": (Category.EMPTY, RetryClass.WAIT),
    "656": (Category.BLOCKED, RetryClass.WAIT),
    "108": (Category.PAUSED, RetryClass.BACKOFF),
    "109": (Category.PAUSED, RetryClass.BACKOFF),
    **dict.fromkeys([str(c) for c in range(280, 287)], (Category.CERTIFICATE, RetryClass.ASK_USER)),
    **dict.fromkeys(["593", "640", "641"], (Category.PERMISSION, RetryClass.ASK_USER)),
    **dict.fromkeys(["632", "653", "654", "217"], (Category.UNAVAILABLE, RetryClass.NONE)),
    **dict.fromkeys(
        ["215", "252", "402", "404", "587", "588", "236", "489", "614", "619"],
        (Category.SCHEMA, RetryClass.BUG),
    ),
    "589": (Category.NSU, RetryClass.BUG),
    "999": (Category.OTHER, RetryClass.BACKOFF),
}


@pytest.mark.parametrize(("cstat", "expected"), DISTRIBUTION_EXPECTED.items())
def test_distribution_codes(cstat: str, expected: tuple[Category, RetryClass]) -> None:
    outcome = classify(DISTRIBUTION_RULES, cstat, "x")
    assert (outcome.category, outcome.retry) == expected
    assert outcome.hint


EVENT_EXPECTED = {
    "135": (Category.REGISTERED, RetryClass.NONE),
    "136": (Category.REGISTERED, RetryClass.NONE),
    "573": (Category.DUPLICATE, RetryClass.NONE),
    "596": (Category.DEADLINE, RetryClass.ASK_USER),
    "655": (Category.CONFLICT, RetryClass.NONE),
    "631": (Category.PERMISSION, RetryClass.ASK_USER),
    "575": (Category.PERMISSION, RetryClass.ASK_USER),
    "290": (Category.CERTIFICATE, RetryClass.ASK_USER),
    "297": (Category.SCHEMA, RetryClass.BUG),
    "572": (Category.SCHEMA, RetryClass.BUG),
    "595": (Category.SCHEMA, RetryClass.BUG),
    "494": (Category.UNAVAILABLE, RetryClass.NONE),
    "108": (Category.PAUSED, RetryClass.BACKOFF),
}


@pytest.mark.parametrize(("cstat", "expected"), EVENT_EXPECTED.items())
def test_event_codes(cstat: str, expected: tuple[Category, RetryClass]) -> None:
    outcome = classify(EVENT_RULES, cstat, "x")
    assert (outcome.category, outcome.retry) == expected


def test_the_lot_is_processed_only_with_128() -> None:
    assert classify(EVENT_LOT_RULES, "128", "Lote de evento processado").ok
    assert classify(EVENT_LOT_RULES, "215", "Rejeicao: Falha no schema XML").retry is RetryClass.BUG


def test_ok_covers_exactly_the_usable_answers() -> None:
    usable = {c for c in Category if Outcome("0", "", c, RetryClass.NONE, 0, "").ok}
    assert usable == {Category.SUCCESS, Category.EMPTY, Category.REGISTERED, Category.DUPLICATE}


def test_an_unknown_code_fails_loudly_but_is_retried() -> None:
    outcome = classify(DISTRIBUTION_RULES, "777", "Rejeicao: algo novo")
    assert (outcome.category, outcome.retry, outcome.ok) == (Category.OTHER, RetryClass.BACKOFF, False)
    assert outcome.xmotivo == "Rejeicao: algo novo"


@pytest.mark.parametrize(
    ("motivo", "seconds"),
    [
        ("Rejeicao: Consumo Indevido (... Tente apos 1 hora)", 3600),
        (
            "Consumo Indevido (Deve ser utilizado o ultNSU nas solicitacoes subsequentes. Tente apos 1 hora)",
            3600,
        ),
        ("Consumo indevido. Tente após 2 horas", 7200),
        ("Consumo indevido, tente apos 30 minutos", 1800),
        ("Rejeicao: Consumo Indevido", 3600),  # no wait stated: the documented hour
    ],
)
def test_the_656_wait_comes_from_xmotivo(motivo: str, seconds: int) -> None:
    assert wait_in_motivo(motivo) == seconds
    assert classify(DISTRIBUTION_RULES, "656", motivo).wait_seconds == seconds
