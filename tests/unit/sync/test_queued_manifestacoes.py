"""Manifestações queued for an A3 company: sent by the next NF-e run, even one started while
distNSU must wait, each outcome recorded, audited under the user who asked and taken off the queue."""

from __future__ import annotations

from datetime import timedelta

from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.records import Family, Manifestacao, ManifestacaoType
from fiscal_core.sync.contract import Next, Scope, Trigger
from fiscal_core.sync.queued_manifestacoes import QueuedManifestacao
from tests.unit.sync.harness import ACCOUNT, BUCKET, COMPANY_ID, Harness

REQUESTER = "user-7"


def _queue(
    harness: Harness, key: str, kind: ManifestacaoType = "confirmacao", justificativa: str | None = None
) -> None:
    request = QueuedManifestacao(
        access_key=key, type=kind, justificativa=justificativa, requested_by=REQUESTER,
        requested_at=harness.clock.now,
    )  # fmt: skip
    harness.queue().put(ACCOUNT, COMPANY_ID, request)


def _stored_summaries(harness: Harness, *hours_ago: float) -> list[str]:
    keys = []
    for age in hours_ago:
        note = harness.note(hours_ago=age)
        harness.publish_summary(note)
        keys.append(note.key)
    harness.run()  # stored; caught up, so distNSU must now wait an hour
    return keys


def _audit(action: str) -> list[tuple[str, str | None, dict[str, object]]]:
    entries = AuditRepository().for_account(ACCOUNT).items
    return [(e.entity_id, e.user_id, dict(e.details)) for e in entries if e.action == action]


def test_a_queued_confirmacao_is_sent_by_a_run_started_while_distnsu_waits(harness: Harness) -> None:
    harness.company()
    [key] = _stored_summaries(harness, 5)
    calls = len(harness.nfe.calls)
    _queue(harness, key)

    result = harness.run(scope=Scope.QUEUED, trigger=Trigger.USER)

    assert result.last.next is Next.FINISH and result.last.scope is Scope.QUEUED
    assert len(harness.nfe.calls) == calls  # the distribution was not asked
    [lot] = harness.manifestor.lots
    assert [(e.chave, e.tipo.tp_evento) for e in lot] == [(key, "210200")]
    document = harness.document(key)
    assert document.manifestacao is Manifestacao.CONFIRMADA and "210200#001" in document.event_ids
    assert harness.queue().pending(ACCOUNT, COMPANY_ID) == []
    [(entity, user, details)] = _audit("document.manifestacao")
    assert (entity, user) == (f"{COMPANY_ID}.{key}", REQUESTER)
    assert details["type"] == "confirmacao" and details["cstat"] == "135" and details["via"] == "agent"
    [run] = [r for r in harness.run_records() if r.run_id == result.last.run_id]
    assert run.events_saved == 1 and run.status == "SUCCEEDED"
    harness.assert_consistent()


def test_refusals_and_passed_deadlines_are_reported_audited_and_taken_off(harness: Harness) -> None:
    harness.company()
    refused, fine, too_old = _stored_summaries(harness, 5, 6, 181 * 24)
    harness.manifestor.codes[refused] = "650"
    _queue(harness, refused, "desconhecimento")
    _queue(harness, fine, "nao_realizada", "Mercadoria devolvida ao fornecedor")
    _queue(harness, too_old)

    result = harness.run(scope=Scope.QUEUED)

    [lot] = harness.manifestor.lots  # the note past 180 days was never sent
    assert sorted(e.chave for e in lot) == sorted([refused, fine])
    [event] = [e for e in lot if e.chave == fine]
    assert event.justificativa == "Mercadoria devolvida ao fornecedor"
    assert harness.document(fine).manifestacao is Manifestacao.NAO_REALIZADA
    assert harness.document(refused).manifestacao is None
    assert result.last.message == "Manifestações queued for the agent: 1 recorded by SEFAZ, 2 not."
    [run] = [r for r in harness.run_records() if r.run_id == result.last.run_id]
    message = run.error_summary or ""
    assert f"NF-e {refused} was not registered: SEFAZ answered 650" in message
    assert f"NF-e {too_old} was not registered: prazo expirado" in message
    assert {entity.split(".")[1] for entity, _, _ in _audit("document.manifestacao_refused")} == {
        refused,
        too_old,
    }
    assert harness.queue().pending(ACCOUNT, COMPANY_ID) == []


def test_a_queued_run_when_sefaz_may_be_asked_reads_the_stream_and_sends_the_queue(harness: Harness) -> None:
    harness.company()
    [key] = _stored_summaries(harness, 5)
    harness.clock.advance(timedelta(hours=2))  # distNSU may be asked again
    newer = harness.note(hours_ago=1)
    harness.publish_summary(newer)
    _queue(harness, key)

    result = harness.run(scope=Scope.QUEUED)

    assert result.last.scope is Scope.FULL
    harness.document(newer.key)  # the stream was read
    assert harness.document(key).manifestacao is Manifestacao.CONFIRMADA
    assert harness.queue().pending(ACCOUNT, COMPANY_ID) == []


def test_a_request_already_recorded_is_taken_off_without_sending_it_again(harness: Harness) -> None:
    harness.company()
    [key] = _stored_summaries(harness, 5)
    _queue(harness, key)
    harness.run(scope=Scope.QUEUED)
    _queue(harness, key)  # as if a run had stopped between recording it and taking it off

    harness.run(scope=Scope.QUEUED)

    assert len(harness.manifestor.lots) == 1
    assert harness.queue().pending(ACCOUNT, COMPANY_ID) == []
    assert [d["outcome"] for _, _, d in _audit("document.manifestacao") if "outcome" in d] == [
        "ALREADY_RECORDED"
    ]


def test_an_unreadable_request_is_dropped_and_the_others_still_go(harness: Harness) -> None:
    harness.company()
    [key] = _stored_summaries(harness, 5)
    _queue(harness, key)
    prefix = f"{ACCOUNT}/{COMPANY_ID}/sync/nfe/manifestacoes/"
    harness.s3.put_object(Bucket=BUCKET, Key=f"{prefix}garbage.json", Body=b"{not json")

    harness.run(scope=Scope.QUEUED)

    assert harness.document(key).manifestacao is Manifestacao.CONFIRMADA
    assert harness.objects(prefix) == {}


def test_a_queued_run_is_an_nfe_run_and_a_held_lease_leaves_the_queue_to_its_holder(harness: Harness) -> None:
    harness.company()
    [key] = _stored_summaries(harness, 5)
    _queue(harness, key)

    assert harness.run(Family.CTE, scope=Scope.QUEUED).last.next is Next.SKIP
    harness.cursors.acquire(
        ACCOUNT, COMPANY_ID, Family.NFE, "a-run", timedelta(minutes=5), even_if_waiting=True
    )
    held = harness.run(scope=Scope.QUEUED).last

    assert held.next is Next.SKIP and "already running" in (held.message or "")
    assert harness.manifestor.lots == [] and len(harness.queue().pending(ACCOUNT, COMPANY_ID)) == 1


def test_a_refused_lot_refuses_each_request_in_it(harness: Harness) -> None:
    harness.company()
    keys = _stored_summaries(harness, 5, 6)
    for key in keys:
        _queue(harness, key)
    harness.manifestor.lot_code = "215"

    result = harness.run(scope=Scope.QUEUED)

    assert result.last.message == "Manifestações queued for the agent: 0 recorded by SEFAZ, 2 not."
    [run] = [r for r in harness.run_records() if r.run_id == result.last.run_id]
    assert (run.error_summary or "").count("SEFAZ refused the lot (215") == 2
    assert sorted(entity.split(".")[1] for entity, _, _ in _audit("document.manifestacao_refused")) == sorted(
        keys
    )
    assert all(harness.document(key).manifestacao is None for key in keys)
    assert harness.queue().pending(ACCOUNT, COMPANY_ID) == []
