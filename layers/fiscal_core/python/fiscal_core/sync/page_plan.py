"""What storing a page means, decided before any write: pure, so every case is a unit test.

Given the page's items (in NSU order), the stored state of what they touch and the NSU range the
page brings, the plan says which XML to put in S3, which records are new (batched), which stored
documents change and to what (one versioned put each, with the repository calls that redo it if
another writer got there first), and how many documents and events the page saved.

Counting is exact even when a page is stored twice (a step that crashed after writing and ran
again): a record whose NSU lies in this page's range (requested ultNSU, returned ultNSU] can only
have been written by an earlier attempt at this same page, so it counts as this page's work and
is not written again. Documents fetched outside the stream (consChNFe) are stored without NSU,
so they never look like a page's work.

A document's summary and full XML share one object key; within a page, and against the store,
only a change of state writes, so a summary re-sent after its full document never overwrites it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from fiscal_core.storage.documents import BODY_FIELDS, stronger_status
from fiscal_core.storage.records import DocKind, FiscalDocument, FiscalEvent
from fiscal_core.sync.items import DocumentItem, EventItem, PageItem, StoredObject, UnreadableItem
from fiscal_core.sync.page_records import DocumentUpdate, Snapshot

Write = FiscalDocument | FiscalEvent


@dataclass
class PagePlan:
    """The writes a page needs and what they count."""

    objects: list[StoredObject] = field(default_factory=list)
    new_documents: list[FiscalDocument] = field(default_factory=list)  # batched, effects applied
    new_events: list[FiscalEvent] = field(default_factory=list)  # batched
    updates: list[DocumentUpdate] = field(default_factory=list)  # versioned puts of stored documents
    # The repository calls that do a document's writes one by one, in order: for documents with
    # orphan events waiting, and, should its versioned put lose a race, for an updated document.
    through_repository: dict[str, list[Write]] = field(default_factory=dict)
    orphans_found: dict[str, datetime] = field(default_factory=dict)  # doc key -> latest event time
    orphans_resolved: set[str] = field(default_factory=set)
    unreadable: list[UnreadableItem] = field(default_factory=list)
    docs_saved: int = 0
    events_saved: int = 0


@dataclass
class _Group:
    documents: list[DocumentItem] = field(default_factory=list)
    events: list[EventItem] = field(default_factory=list)


def in_range(nsu: str | None, nsu_range: tuple[int, int] | None) -> bool:
    """True when ``nsu`` is one this page brings for the first time."""
    return nsu is not None and nsu_range is not None and nsu_range[0] < int(nsu) <= nsu_range[1]


def plan_page(
    items: Sequence[PageItem],
    snapshot: Snapshot,
    orphans: Collection[str],
    nsu_range: tuple[int, int] | None,
) -> PagePlan:
    """The plan that stores ``items`` over ``snapshot``; ``orphans`` are documents with events waiting."""
    plan = PagePlan()
    for key, group in _groups(items, plan).items():
        _plan_group(plan, key, group, snapshot, orphans, nsu_range)
    return plan


def _groups(items: Iterable[PageItem], plan: PagePlan) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    seen_events: set[tuple[str, str]] = set()
    for item in items:
        if isinstance(item, UnreadableItem):
            plan.unreadable.append(item)
            plan.objects.append(item.xml)
        elif isinstance(item, DocumentItem):
            groups.setdefault(item.document.doc_key, _Group()).documents.append(item)
        else:
            ident = (item.event.doc_key, item.event.event_id)
            if ident not in seen_events:  # the same event twice in one page is one event
                seen_events.add(ident)
                groups.setdefault(item.event.doc_key, _Group()).events.append(item)
    return groups


def _plan_group(
    plan: PagePlan,
    key: str,
    group: _Group,
    snapshot: Snapshot,
    orphans: Collection[str],
    nsu_range: tuple[int, int] | None,
) -> None:
    stored = snapshot.documents.get(key)
    # Written by an earlier attempt at this page: replay the page from "absent" to count it.
    rewritten = stored is not None and in_range(stored.nsu, nsu_range)
    kind = None if stored is None or rewritten else stored.kind
    final: FiscalDocument | None = None
    content: StoredObject | None = None
    for item in group.documents:
        document = item.document
        if kind is None or (kind is DocKind.SUMMARY and document.kind is DocKind.FULL):
            final = document if final is None else merge(final, document)
            content, kind = item.xml, document.kind
            plan.docs_saved += 1
    events = [item.event for item in group.events]
    unstored = [item for item in group.events if (key, item.event.event_id) not in snapshot.events]
    plan.events_saved += sum(
        1 for event in events if (key, event.event_id) not in snapshot.events
        or in_range(snapshot.events[(key, event.event_id)], nsu_range)
    )  # fmt: skip
    plan.objects += [item.xml for item in unstored]
    if stored is None:
        _plan_absent(plan, key, final, content, events, unstored, orphans)
        return
    if key in orphans:
        # Stored meanwhile by the repository (an import), which applied the events waiting for it.
        plan.orphans_resolved.add(key)
    upgraded = final is not None and stored.kind is DocKind.SUMMARY and final.kind is DocKind.FULL
    links = [event for event in events if event.event_id not in stored.event_ids]
    plan.new_events += [item.event for item in unstored]
    if not upgraded and not links:
        return
    document = stored.document
    if upgraded and final is not None and content is not None:
        plan.objects.append(content)
        document = upgrade(document, final)
    plan.updates.append(DocumentUpdate(apply_events(document, links), stored.version))
    plan.through_repository[key] = [*([final] if upgraded and final is not None else []), *links]


def _plan_absent(
    plan: PagePlan,
    key: str,
    final: FiscalDocument | None,
    content: StoredObject | None,
    events: list[FiscalEvent],
    unstored: list[EventItem],
    orphans: Collection[str],
) -> None:
    """A document the store does not hold: create it, or remember its events as orphans."""
    if final is None or content is None:  # only events: their document has not arrived
        plan.new_events += [item.event for item in unstored]
        plan.orphans_found[key] = max(event.event_at for event in events)
        return
    plan.objects.append(content)
    if key in orphans:
        # Events stored by earlier pages wait for it: the repository applies them on creation.
        plan.through_repository[key] = [final, *events]
        plan.orphans_resolved.add(key)
        return
    plan.new_documents.append(apply_events(final, events))
    plan.new_events += [item.event for item in unstored]


def upgrade(stored: FiscalDocument, full: FiscalDocument) -> FiscalDocument:
    """A stored summary with the full document's body over it; its events and history stay."""
    # The fields DocumentRepository.put_document writes over a stored summary.
    body = {name: getattr(full, name) for name in BODY_FIELDS}
    return replace(stored, **body, kind=DocKind.FULL, status=stronger_status(stored.status, full.status))


def merge(summary: FiscalDocument, full: FiscalDocument) -> FiscalDocument:
    """The full document over its summary, as the repository upgrades: the status never falls."""
    return replace(full, status=stronger_status(summary.status, full.status))


def apply_events(document: FiscalDocument, events: Iterable[FiscalEvent]) -> FiscalDocument:
    """``document`` with the effects of ``events`` and their links, as the repository applies them."""
    linked = set(document.event_ids)
    status, manifestacao, manifestacao_at = document.status, document.manifestacao, document.manifestacao_at
    for event in events:
        if event.event_id in linked:
            continue
        linked.add(event.event_id)
        if event.status_effect is not None:
            status = stronger_status(status, event.status_effect)
        # The latest manifestação counts (SEFAZ keeps the last conclusive event).
        if event.manifestacao_effect is not None and (
            manifestacao_at is None or event.event_at >= manifestacao_at
        ):
            manifestacao, manifestacao_at = event.manifestacao_effect, event.event_at
    return replace(
        document,
        event_ids=frozenset(linked),
        status=status,
        manifestacao=manifestacao,
        manifestacao_at=manifestacao_at,
    )
