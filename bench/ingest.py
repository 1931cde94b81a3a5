"""How fast the sync stores distribution pages, against the one-put-per-document loop, in one run.

Both candidates store the same pages of up to 50 docZips into a moto server on 127.0.0.1, for a
fresh company each round (so every document is new, as on a first sync):

- pipeline: ``fiscal_core.sync.page_store.PageStore``, the sync worker's page storage: XML puts
  overlapped on its thread pool, one BatchGetItem for the documents and events the page touches,
  BatchWriteItem for the new records (both tables in the same batches of 25), a versioned PutItem
  per stored document that changes (upgrades, events on stored documents);
- naive: the seed's flow, document after document: read it, one S3 PutObject, one DynamoDB
  PutItem, nothing overlapped.

The pages come from the SEFAZ simulator's seeding (``local.sefaz.scenarios``, the document
factory behind it): the NF-e distribution (resNFe, procNFe, resEvento, procEventoNFe) and the
CT-e distribution (procCTe), cut into pages of 50 in NSU order as each service hands them out.

moto runs in a child process (``python -m moto.server`` on 127.0.0.1), so this process's CPU
time (``time.process_time``) is the candidates' own work, outside network waits; the server's
CPU is reported beside it. Rounds alternate the candidates so machine noise hits both alike;
each keeps its best round. The last line of output is one JSON object.

On loopback a request waits for no network, only for moto's CPU. ``--latency-ms N`` puts
``bench/latency_proxy.py`` between the candidates and moto, holding each request N ms as a
region's round trip would: the conditions the pipeline's overlap is for. That figure is reported
beside the loopback one, not instead of it.

    .venv/bin/python bench/ingest.py [--stories 300] [--rounds 5] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3
import psutil
from botocore.config import Config

from fiscal_core.settings import ResourceNames
from fiscal_core.storage.document_records import event_item
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Family
from fiscal_core.storage.tables import bind_tables
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.crash import NO_CRASHES
from fiscal_core.sync.items import Company, DocumentItem, EventItem, classify
from fiscal_core.sync.notes import CursorNotes, NotesStore
from fiscal_core.sync.objects import XML_CONTENT_TYPE, ObjectStore
from fiscal_core.sync.page_records import PageRecords, new_document_item
from fiscal_core.sync.page_store import PageStore
from fiscal_core.sync.policy import SyncPolicy
from local.aws import FAKE_CREDENTIALS, LOCAL_ACCOUNT, LOOPBACK
from local.resources import create_buckets, create_key, create_tables
from local.sefaz import DistributionEngine, SimClock
from local.sefaz.scenarios import seed_company
from local.sefaz.service import Service

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PAGE_SIZE = 50
REGION = "sa-east-1"
CNPJ = "11222333000181"
_FAMILIES = {Service.NFE_DIST: Family.NFE, Service.CTE_DIST: Family.CTE}


@dataclass(frozen=True)
class Page:
    """One answer of a distribution service: its family, NSU range and docZips."""

    family: Family
    nsu_range: tuple[int, int]
    documents: tuple[DocZip, ...]


def distribution_pages(stories: int) -> list[Page]:
    """The NF-e and CT-e distribution of a company seeded with ``stories``, in pages of 50."""
    engine = DistributionEngine(SimClock())
    seed_company(engine, CNPJ, documents=stories)
    pages = []
    for service, family in _FAMILIES.items():
        items = engine.log(service, CNPJ).after(0, not_before=datetime.min.replace(tzinfo=UTC), limit=10**6)
        for start in range(0, len(items), PAGE_SIZE):
            chunk = items[start : start + PAGE_SIZE]
            documents = tuple(DocZip(f"{i.nsu:015d}", i.schema, i.xml) for i in chunk)
            pages.append(Page(family, (chunk[0].nsu - 1, chunk[-1].nsu), documents))
    return pages


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def moto_server() -> Iterator[tuple[str, psutil.Process]]:
    """``python -m moto.server`` on a free loopback port; its endpoint and its process."""
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, child)
        yield f"http://localhost:{port}", psutil.Process(child.pid)
    finally:
        child.terminate()
        child.wait(timeout=10)


@contextmanager
def latency_proxy(endpoint: str, delay_ms: int) -> Iterator[str]:
    """``endpoint`` behind bench/latency_proxy.py holding each connection ``delay_ms``; its URL."""
    if delay_ms <= 0:
        yield endpoint
        return
    port, upstream = _free_port(), int(endpoint.rsplit(":", 1)[1])
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "latency_proxy.py")
    child = subprocess.Popen([sys.executable, script, str(port), str(upstream), str(delay_ms)])
    try:
        _wait_for(port, child)
        yield f"http://localhost:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)


def _wait_for(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"{child.args!r} did not start") from None
            time.sleep(0.1)


def point_at(endpoint: str, names: ResourceNames) -> None:
    """Point boto3, PynamoDB and the tables at the server, and create the stage's resources."""
    os.environ.update(
        {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    )
    key_arn = create_key(boto3.client("kms"), names.kms_alias)
    create_buckets(boto3.client("s3"), names, key_arn)
    create_tables(boto3.client("dynamodb"), names.table_prefix)
    bind_tables(names.table_prefix)


Store = Callable[[Company, Sequence[Page]], None]


def pipeline(bucket: str) -> Store:
    """The sync's PageStore, wired as the worker wires it (its thread pool and S3 pool size)."""
    threads = SyncPolicy().store_threads
    executor = ThreadPoolExecutor(threads, thread_name_prefix="bench-store")
    s3: S3Client = boto3.client("s3", config=Config(max_pool_connections=threads + 4))
    objects = ObjectStore(s3, bucket, executor)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    store = PageStore(
        objects, PageRecords(clock), DocumentRepository(clock=clock), NotesStore(objects), executor,
        NO_CRASHES, clock,
    )  # fmt: skip

    def run(company: Company, pages: Sequence[Page]) -> None:
        notes = CursorNotes()
        for page in pages:
            store.store(company, page.family, page.documents, page.nsu_range, notes)

    return run


def naive(bucket: str) -> Store:
    """One document at a time: read it, put its XML, put its record; nothing batched or overlapped."""
    s3 = boto3.client("s3")

    def run(company: Company, pages: Sequence[Page]) -> None:
        for page in pages:
            for doczip in page.documents:
                now = datetime.now(UTC)
                item = classify(doczip, company, page.family, now)
                s3.put_object(
                    Bucket=bucket, Key=item.xml.key, Body=item.xml.body, ContentType=XML_CONTENT_TYPE
                )
                # The items the pipeline writes, put one by one: without the version check a
                # conditional put would add, so the baseline is one plain PutItem per document.
                if isinstance(item, DocumentItem):
                    new_document_item(item.document, now).save(add_version_condition=False)
                elif isinstance(item, EventItem):
                    event_item(item.event, now).save(add_version_condition=False)

    return run


@dataclass
class Best:
    """The best round of a candidate: wall seconds and this process's CPU seconds."""

    wall: float = float("inf")
    cpu: float = float("inf")
    server_cpu: float = float("inf")


def measure(store: Store, pages: Sequence[Page], company: Company, server: psutil.Process) -> Best:
    """Store every page for ``company``; wall, process CPU and server CPU of that one round."""
    server_before = sum(server.cpu_times()[:2])
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    store(company, pages)
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    return Best(wall, cpu, sum(server.cpu_times()[:2]) - server_before)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--stories", type=int, default=300, help="seeded business documents (default 300)")
    cli.add_argument("--rounds", type=int, default=5, help="rounds per candidate (default 5)")
    cli.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="hold each request this long, as a network would (default 0)",
    )
    args = cli.parse_args()

    pages = distribution_pages(args.stories)
    documents = sum(len(page.documents) for page in pages)
    mix = dict(Counter(doczip.schema.split("_")[0] for page in pages for doczip in page.documents))
    names = ResourceNames(stage="bench", account=LOCAL_ACCOUNT, region=REGION)
    with moto_server() as (moto, server), latency_proxy(moto, args.latency_ms) as endpoint:
        point_at(endpoint, names)
        candidates = {"pipeline": pipeline(names.documents_bucket), "naive": naive(names.documents_bucket)}
        # A warm-up round each: connections, imports and PynamoDB's first calls are not measured.
        for name, store in candidates.items():
            store(Company("bench", f"warmup-{name}", CNPJ), pages[:1])
        best = {name: Best() for name in candidates}
        for round_ in range(args.rounds):
            for name, store in candidates.items():
                result = measure(store, pages, Company("bench", f"{name}-{round_}", CNPJ), server)
                if result.wall < best[name].wall:
                    best[name] = result

    docs_per_s = {name: round(documents / b.wall, 1) for name, b in best.items()}
    cpu_ms = {name: round(b.cpu * 1000 / documents, 3) for name, b in best.items()}
    server_ms = {name: round(b.server_cpu * 1000 / documents, 3) for name, b in best.items()}
    ratio = round(docs_per_s["pipeline"] / docs_per_s["naive"], 2)
    for name in candidates:
        print(
            f"{name:>8}: {docs_per_s[name]:8.1f} docs/s, {cpu_ms[name]:6.3f} ms CPU/doc here, "
            f"{server_ms[name]:6.3f} ms CPU/doc in moto"
        )
    where = f", {args.latency_ms} ms added to each request" if args.latency_ms > 0 else ""
    print(
        f"pipeline vs naive: {ratio}x ({documents} documents in {len(pages)} pages{where}, mix {dict(mix)})"
    )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "documents": documents,
                "pages": len(pages),
                "mix": mix,
                "python": platform.python_version(),
                "latency_ms": args.latency_ms,
                "docs_per_s": docs_per_s,
                "cpu_ms_per_doc": cpu_ms,
                "moto_cpu_ms_per_doc": server_ms,
                "ratios": {"pipeline vs naive": ratio},
            }
        )
    )


if __name__ == "__main__":
    main()
