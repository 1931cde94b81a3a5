"""The decision table: what each kind of SEFAZ answer does to the cursor and the run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from fiscal_core.sefaz.adn import parse_adn_response
from fiscal_core.sefaz.cstat import DISTRIBUTION_RULES, classify
from fiscal_core.sefaz.errors import ConnectionFailed, TlsFailure
from fiscal_core.sefaz.transport import HttpResponse
from fiscal_core.storage.records import Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.answer import Answer
from fiscal_core.sync.contract import Next, SyncState
from fiscal_core.sync.decisions import Action, decide
from fiscal_core.sync.errors import RetryableSyncError
from fiscal_core.sync.policy import SyncPolicy
from tests.unit.sync.fakes import nsu, scripted
from tests.unit.sync.harness import ACCOUNT, COMPANY_ID, Harness

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 14:00 in Brasília
POLICY = SyncPolicy()
BLOCKED = (
    "Rejeicao: Consumo Indevido (Deve ser utilizado o ultNSU nas solicitacoes subsequentes. "
    "Tente apos 1 hora)"
)


def _answer(
    cstat: str, xmotivo: str = "motivo", *, caught_up: bool = False, wait: int | None = None
) -> Answer:
    outcome = classify(DISTRIBUTION_RULES, cstat, xmotivo)
    if wait is not None:
        outcome = replace(outcome, wait_seconds=wait)
    return Answer(nsu(10), outcome, nsu(20), nsu(20 if caught_up else 90), (), caught_up, NOW)


def _decide(answer: Answer) -> object:
    return decide(answer, POLICY, NOW, source="SEFAZ (NF-e distribution)", company="ACME LTDA (CNPJ 1)")


@pytest.mark.parametrize(
    ("cstat", "caught_up", "action", "status", "reason", "wait"),
    [
        ("138", False, Action.RECORD, None, None, None),
        ("138", True, Action.RECORD, RunStatus.SUCCEEDED, "CAUGHT_UP", timedelta(hours=1, minutes=5)),
        ("137", False, Action.RECORD, RunStatus.SUCCEEDED, "NO_NEW_DOCUMENTS", timedelta(hours=1, minutes=5)),
        ("656", False, Action.STOP, RunStatus.WAITING, "BLOCKED_656", timedelta(hours=1, minutes=5)),
        ("108", False, Action.STOP, RunStatus.WAITING, "SERVICE_PAUSED", timedelta(minutes=35)),
        ("109", False, Action.STOP, RunStatus.WAITING, "SERVICE_PAUSED", timedelta(minutes=35)),
        ("280", False, Action.STOP, RunStatus.FAILED, None, None),
        ("286", False, Action.STOP, RunStatus.FAILED, None, None),
        ("593", False, Action.STOP, RunStatus.FAILED, None, None),
        ("215", False, Action.STOP, RunStatus.FAILED, None, None),
        ("589", False, Action.STOP, RunStatus.FAILED, None, None),
        ("999", False, Action.RETRY, None, None, None),
        ("123", False, Action.RETRY, None, None, None),
    ],
)
def test_each_answer_has_its_row(
    cstat: str, caught_up: bool, action: Action, status: RunStatus | None, reason: str | None,
    wait: timedelta | None,
) -> None:  # fmt: skip
    decision = decide(
        _answer(cstat, caught_up=caught_up, wait=3600 if caught_up else None),
        POLICY, NOW, source="SEFAZ", company="ACME",
    )  # fmt: skip
    assert decision.action is action
    assert decision.status is status
    assert decision.reason == reason
    assert decision.next_allowed_at == (None if wait is None else NOW + wait)


def test_the_user_reads_why_and_until_when_in_brasilia_time() -> None:
    caught_up = decide(_answer("137"), POLICY, NOW, source="SEFAZ (NF-e distribution)", company="ACME")
    assert caught_up.message == (
        "SEFAZ (NF-e distribution) has no new documents; the next query is allowed at 15:05 on 10/03 "
        "(Brasília time)."
    )
    certificate = decide(
        _answer("284", "Certificado revogado"), POLICY, NOW, source="SEFAZ", company="ACME LTDA"
    )
    assert "ACME LTDA" in (certificate.message or "")
    assert "284 Certificado revogado" in (certificate.message or "")
    assert "Upload a valid e-CNPJ A1" in (certificate.message or "")


def test_a_656_waits_as_long_as_sefaz_says() -> None:
    decision = decide(
        _answer("656", "Consumo indevido. Tente apos 2 horas"), POLICY, NOW, source="S", company="C"
    )
    assert decision.next_allowed_at == NOW + timedelta(hours=2, minutes=5)


def test_a_short_wait_of_the_adn_happens_inside_the_run_a_long_one_ends_it() -> None:
    def limited(seconds: int) -> Answer:
        # The ADN's 429 is an HTML page; Retry-After says how long to wait.
        page = HttpResponse(429, {"retry-after": str(seconds)}, b"<html>Too Many Requests</html>")
        outcome = parse_adn_response(page, 5, "https://adn").outcome
        return Answer(nsu(5), outcome, nsu(5), nsu(5), (), False, NOW)

    assert decide(limited(60), POLICY, NOW, source="ADN", company="C").action is Action.WAIT_IN_RUN
    long = decide(limited(3600), POLICY, NOW, source="ADN", company="C")
    assert (long.action, long.status) == (Action.STOP, RunStatus.WAITING)


# Through the worker: what each stop leaves on the cursor and the run.


def test_a_656_blocks_the_cursor_until_sefaz_allows_and_the_run_waits(harness: Harness) -> None:
    harness.company()
    harness.nfe.scripted.append(scripted("656", BLOCKED, ult=nsu(0), maximum=nsu(0)))

    result = harness.run()

    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.block_reason == "BLOCKED_656"
    assert cursor.next_allowed_at == harness.clock.now + timedelta(hours=1, minutes=5)
    assert "no other system" in (cursor.block_detail or "")
    [run] = harness.run_records()
    assert run.status == RunStatus.WAITING
    assert result.last.next is Next.FINISH
    assert cursor.lease_owner is None


def test_a_656_naming_nsus_never_received_opens_a_gap_and_resumes_there(harness: Harness) -> None:
    harness.company()
    harness.nfe.scripted.append(scripted("656", BLOCKED, ult=nsu(7), maximum=nsu(0)))

    harness.run()

    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.last_nsu == nsu(7)
    notes = harness.worker()._deps.notes.load(ACCOUNT, COMPANY_ID, Family.NFE)
    assert notes.gaps == [nsu(n) for n in range(1, 8)]
    [run] = harness.run_records()
    assert "7 document(s) SEFAZ sent earlier never arrived" in (run.error_summary or "")


@pytest.mark.parametrize("cstat", ["108", "109"])
def test_a_paused_service_is_tried_again_later(harness: Harness, cstat: str) -> None:
    harness.company()
    harness.nfe.scripted.append(scripted(cstat, "Servico Paralisado"))

    harness.run()

    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.block_reason == "SERVICE_PAUSED"
    assert cursor.next_allowed_at == harness.clock.now + timedelta(minutes=35)
    assert harness.run_records()[0].status == RunStatus.WAITING


@pytest.mark.parametrize("cstat", ["280", "285", "593"])
def test_a_refused_certificate_fails_the_run_telling_the_user_what_to_do(
    harness: Harness, cstat: str
) -> None:
    harness.company()
    harness.nfe.scripted.append(scripted(cstat, "Rejeicao: Certificado Transmissor Invalido"))

    harness.run()

    [run] = harness.run_records()
    assert run.status == RunStatus.FAILED
    assert run.error_code == cstat
    assert "EMPRESA SYNC LTDA" in (run.error_summary or "")
    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.last_error == run.error_summary
    assert cursor.next_allowed_at <= harness.clock.now  # the user may retry as soon as it is fixed
    assert cursor.last_nsu == nsu(0)


def test_an_unknown_answer_or_a_network_failure_is_retried_by_the_workflow(harness: Harness) -> None:
    harness.company()
    worker = harness.worker()
    started = worker.handle(SyncState(account_id=ACCOUNT, company_id=COMPANY_ID, family=Family.NFE))
    harness.nfe.scripted.append(scripted("999", "Erro nao catalogado"))
    with pytest.raises(RetryableSyncError, match="999"):
        worker.handle(started)

    def unreachable(requested: str) -> Answer:
        raise ConnectionFailed("https://sefaz", "connection reset")

    harness.nfe.scripted.append(unreachable)
    with pytest.raises(RetryableSyncError, match="could not be reached"):
        worker.handle(started)
    assert harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE).lease_owner == started.lease_owner


def test_a_tls_refusal_fails_the_run_in_words(harness: Harness) -> None:
    harness.company()

    def refused(requested: str) -> Answer:
        raise TlsFailure("https://sefaz", "TLS failed (certificate revoked)")

    harness.nfe.scripted.append(refused)
    harness.run()

    [run] = harness.run_records()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "TLS")
    assert "upload a new one" in (run.error_summary or "")


def test_a_company_without_a_usable_certificate_fails_without_calling_sefaz(harness: Harness) -> None:
    harness.company()
    harness.credentials.problem = "EMPRESA SYNC LTDA has no active A1 certificate. Upload it."

    harness.run()

    assert harness.nfe.calls == []
    [run] = harness.run_records()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "CERTIFICATE")
    assert run.error_summary == harness.credentials.problem
