"""Items read against items returned, for every filter of ``GET /documents``.

A company with 20,000 documents (and a second company of the same account with 1,000) is
written into moto's DynamoDB: records only, no XML, with a realistic spread of types,
directions, statuses, issuers, recipients, issue dates over two years and values. Each filter
the API offers is then planned by ``plan_query`` and run by ``run_plan`` (the very functions
the route calls) through every page, while a botocore hook sums what DynamoDB reports for each
call: ``ScannedCount`` (items the Query touched) for a Query, the item for a GetItem. The
baseline is the items returned: a filter served by a key condition reads exactly those (1.0);
one that filtered after reading would read more. The budget is 1.25 for every filter.

A value range (min_value/max_value, with company_id) is a key condition on the index that sorts
a company's documents by total value, so it is measured like the others.

    .venv/bin/python bench/query.py [--documents 20000] [--page 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table

from fiscal_core.api.documents import run_plan
from fiscal_core.api.documents_filters import plan_query
from fiscal_core.api.documents_query import BRASILIA, CompanyIdentity, DocumentQuery, Order
from fiscal_core.identifiers import DocumentModel, build_access_key, build_nfse_key
from fiscal_core.storage.document_keys import index_keys
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.models import Document
from fiscal_core.storage.records import Direction, DocKind, DocStatus, DocType, Family, document_sort_key
from fiscal_core.storage.tables import bind_tables
from local.fixtures.identities import cnpj_for
from local.resources import create_tables

REGION = "sa-east-1"
PREFIX = "bench"
ACCOUNT = "01BENCHACCOUNT0000000000AA"
COMPANY = CompanyIdentity("01BENCHCOMPANY000000000000", cnpj_for("bench-acme"), "SP")
OTHER_COMPANY = "01BENCHOTHERCOMPANY0000000"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BUDGET = 1.25
# Type → (family, model, share of a wholesale company's documents).
TYPES: dict[DocType, tuple[Family, DocumentModel | None, float]] = {
    DocType.NFE: (Family.NFE, DocumentModel.NFE, 0.62),
    DocType.NFCE: (Family.NFE, DocumentModel.NFCE, 0.08),
    DocType.CTE: (Family.CTE, DocumentModel.CTE, 0.15),
    DocType.MDFE: (Family.MDFE, DocumentModel.MDFE, 0.03),
    DocType.NFSE: (Family.NFSE, None, 0.12),
}
DIRECTIONS = ((Direction.IN, 0.60), (Direction.OUT, 0.35), (Direction.THIRD, 0.05))
STATUSES = ((DocStatus.AUTHORIZED, 0.93), (DocStatus.CANCELLED, 0.05), (DocStatus.DENIED, 0.02))


@dataclass
class Tally:
    """What DynamoDB said it read, call by call."""

    calls: int = 0
    read: int = 0

    def hook(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls += 1
        if model.name == "GetItem":
            self.read += 1 if parsed.get("Item") else 0
        else:
            self.read += int(parsed.get("ScannedCount", 0))


def freeze_moto_sorting() -> None:
    """Memoize moto's two whole-table sorts once the writes are done.

    moto answers every Query by sorting every item of the table, then the items of the
    partition, again (O(N log N) per page: minutes per filter at 20,000 documents). Both are
    pure functions of the table's contents, which no longer change, so each is computed once;
    the Query itself (key condition, ScannedCount, Limit, LastEvaluatedKey) is moto's own code.
    """
    all_items, sorted_items = Table.all_items, Table.sorted_items
    sorted_tables: dict[int, list[Any]] = {}
    sorted_partitions: dict[tuple[Any, ...], list[Any]] = {}

    def all_items_once(self: Table) -> list[Any]:
        if id(self) not in sorted_tables:
            sorted_tables[id(self)] = all_items(self)
        return list(sorted_tables[id(self)])

    def sorted_items_once(self: Table, hash_attrs: Any, range_attrs: Any, items: list[Any]) -> list[Any]:
        key = (id(self), tuple(hash_attrs), tuple(range_attrs), tuple(map(id, items)))
        if key not in sorted_partitions:
            sorted_partitions[key] = sorted_items(self, hash_attrs, range_attrs, items)
        return list(sorted_partitions[key])

    Table.all_items = all_items_once  # type: ignore[method-assign]
    Table.sorted_items = sorted_items_once  # type: ignore[method-assign,assignment]


def pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def make_items(rng: random.Random, company_id: str, cnpj: str, count: int) -> list[Document]:
    """``count`` document items of one company, keys and index keys as the repository derives them."""
    suppliers = [cnpj_for(f"supplier-{i}") for i in range(200)]
    customers = [cnpj_for(f"customer-{i}") for i in range(500)]
    numbers: dict[DocType, int] = dict.fromkeys(TYPES, 0)
    items = []
    for _ in range(count):
        doc_type = rng.choices(list(TYPES), [t[2] for t in TYPES.values()])[0]
        family, model, _share = TYPES[doc_type]
        direction = pick(rng, DIRECTIONS)
        issued_at = NOW - timedelta(seconds=rng.randrange(730 * 86400))
        # A few suppliers and customers account for most documents, as in real books.
        supplier = suppliers[min(int(rng.paretovariate(1.2)) - 1, 199)]
        customer = customers[min(int(rng.paretovariate(1.1)) - 1, 499)]
        issuer, recipient = {
            Direction.OUT: (cnpj, None if doc_type is DocType.NFCE else customer),
            Direction.IN: (supplier, cnpj),
            Direction.THIRD: (supplier, customer),
        }[direction]
        numbers[doc_type] += 1
        key = _key(doc_type, model, issuer, issued_at, numbers[doc_type])
        status = pick(rng, STATUSES)
        values = {"doc_type": doc_type.value, "direction": direction.value, "status": status.value,
                  "issuer_doc": issuer, "recipient_doc": recipient}  # fmt: skip
        item = Document(
            company_key(ACCOUNT, company_id), document_sort_key(key, doc_type, None),
            account_id=ACCOUNT, company_id=company_id, family=family.value, doc_type=doc_type.value,
            model=model.value if model else None, access_key=key, series="1", number=numbers[doc_type],
            issued_at=issued_at, issuer_doc=issuer, issuer_name="EMPRESA", recipient_doc=recipient,
            total_value=Decimal(f"{rng.lognormvariate(7, 1.4):.2f}"), status=status.value,
            direction=direction.value, kind=DocKind.FULL.value, created_at=NOW, updated_at=NOW,
            protocol="135260000000001", version=1,
        )  # fmt: skip
        for attr, value in index_keys(ACCOUNT, company_id, values, DocKind.FULL).items():
            setattr(item, attr, value)
        items.append(item)
    return items


def _key(doc_type: DocType, model: DocumentModel | None, issuer: str, at: datetime, number: int) -> str:
    local = at.astimezone(BRASILIA)
    if model is None:
        return build_nfse_key(municipality="3550308", issuer_doc=issuer, number=number,
                              year_month=f"{local:%y%m}", code=f"{number:09d}").value  # fmt: skip
    return build_access_key(cuf="35", year_month=f"{local:%y%m}", issuer_doc=issuer, model=model,
                            series=1, number=number, cnf=f"{number:08d}").value  # fmt: skip


def filters(items: list[Document]) -> dict[str, DocumentQuery]:
    """One query per filter the API offers, with values that match documents."""
    own = next(i for i in items if i.direction == "OUT" and i.doc_type == "NFE")
    top_supplier = max(_counts(items, "issuer_doc", direction="IN").items(), key=lambda kv: kv[1])[0]
    top_customer = max(_counts(items, "recipient_doc", direction="OUT").items(), key=lambda kv: kv[1])[0]
    c = COMPANY.company_id
    start, end = date(2026, 4, 1), date(2026, 6, 30)

    def quarter(**filters: Any) -> DocumentQuery:
        return DocumentQuery(issued_from=start, issued_to=end, **filters)

    return {
        "company": DocumentQuery(company_id=c),
        "company+period": quarter(company_id=c),
        "company oldest first": quarter(company_id=c, order=Order.OLDEST),
        "family": DocumentQuery(company_id=c, family=Family.CTE),
        "type": DocumentQuery(company_id=c, doc_type=DocType.NFE),
        "type+period": quarter(company_id=c, doc_type=DocType.NFE),
        "direction": DocumentQuery(company_id=c, direction=Direction.IN),
        "status": DocumentQuery(company_id=c, status=DocStatus.CANCELLED),
        "type+direction": DocumentQuery(company_id=c, doc_type=DocType.NFE, direction=Direction.OUT),
        "type+status": DocumentQuery(company_id=c, doc_type=DocType.CTE, status=DocStatus.AUTHORIZED),
        "direction+status": DocumentQuery(company_id=c, direction=Direction.IN, status=DocStatus.DENIED),
        "type+direction+status": quarter(
            company_id=c, doc_type=DocType.NFE, direction=Direction.IN, status=DocStatus.AUTHORIZED
        ),
        "issuer": DocumentQuery(company_id=c, issuer=top_supplier),
        "issuer+period": quarter(company_id=c, issuer=top_supplier),
        "recipient": DocumentQuery(company_id=c, recipient=top_customer),
        "account-wide period": quarter(),
        "value range": DocumentQuery(company_id=c, min_value=Decimal("1000"), max_value=Decimal("5000")),
        "value from": DocumentQuery(company_id=c, min_value=Decimal("10000")),
        "value up to, lowest first": DocumentQuery(
            company_id=c, max_value=Decimal("100"), order=Order.LOWEST
        ),
        "access key": DocumentQuery(company_id=c, access_key=own.access_key),
        "number": DocumentQuery(company_id=c, doc_type=DocType.NFE, series=1, number=own.number),
    }


def _counts(items: list[Document], attr: str, **where: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        if all(getattr(item, k) == v for k, v in where.items()) and getattr(item, attr):
            counts[getattr(item, attr)] = counts.get(getattr(item, attr), 0) + 1
    return counts


def measure(query: DocumentQuery, tally: Tally, page: int) -> dict[str, Any]:
    """Run the API's plan for ``query`` through every page; what was read and returned."""
    company = COMPANY if query.company_id else None
    plan = plan_query(ACCOUNT, query, company=company, now=NOW)
    repository = DocumentRepository()
    before_calls, before_read = tally.calls, tally.read
    returned, cursor, started = 0, None, time.perf_counter()
    while True:
        result = run_plan(repository, ACCOUNT, plan, limit=page, cursor=cursor)
        returned += len(result.items)
        if (cursor := result.cursor) is None:
            break
    return {
        "plan": getattr(plan, "index", type(plan).__name__),
        "calls": tally.calls - before_calls,
        "read": tally.read - before_read,
        "returned": returned,
        "seconds": round(time.perf_counter() - started, 3),
    }


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--documents", type=int, default=20_000)
    cli.add_argument("--page", type=int, default=100, help="page size (the API's maximum is 100)")
    args = cli.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():  # fmt: skip
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name=REGION), PREFIX)
        bind_tables(PREFIX, region=REGION)
        rng = random.Random(20261120)
        started = time.perf_counter()
        items = make_items(rng, COMPANY.company_id, COMPANY.cnpj, args.documents)
        others = make_items(rng, OTHER_COMPANY, cnpj_for("bench-other"), args.documents // 20)
        with Document.batch_write() as batch:
            for item in items + others:
                batch.save(item)
        written = time.perf_counter() - started
        freeze_moto_sorting()
        tally = Tally()
        Document._get_connection().connection.client.meta.events.register("after-call.dynamodb", tally.hook)
        results = {name: measure(query, tally, args.page) for name, query in filters(items).items()}
    ratios = {f"{name} read vs returned": round(r["read"] / r["returned"], 3) for name, r in results.items()}
    print(f"{args.documents:,} documents of one company (+{args.documents // 20:,} of another), "
          f"written in {written:.1f} s; page size {args.page}; budget {BUDGET}")  # fmt: skip
    print(f"{'filter':<26} {'index / read':<26} {'calls':>6} {'read':>7} {'returned':>9} {'ratio':>6}")
    for name, r in results.items():
        ratio = ratios[f"{name} read vs returned"]
        print(f"{name:<26} {r['plan']:<26} {r['calls']:>6} {r['read']:>7} {r['returned']:>9} {ratio:>6}")
    worst = max(ratios.values())
    print(f"worst ratio {worst} (budget {BUDGET}): {'within' if worst <= BUDGET else 'OVER'}")
    print(json.dumps({
        "benchmark": "query", "documents": args.documents, "page_size": args.page,
        "python": platform.python_version(),
        "filters": {n: {k: r[k] for k in ("plan", "calls", "read", "returned")} for n, r in results.items()},
        "ratios": ratios,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
