"""How fast, and in how much memory, an export of 10,000 and of 50,000 documents runs, against the
seed's naive flow measured in the same run.

- worker: the export worker's Lambda handler (``functions.export_worker.handler``) on one SQS
  record: Query pages, S3 reads ahead in a thread pool, zipstream-ng into a multipart upload,
  the CSV and XLSX inside;
- naive: the seed's flow 3.3 as written: pages of 100 through the table (a Scan, which is what
  its OFFSET paging becomes without an index), each XML downloaded to a temporary file one at a
  time (boto3's ``download_file``), added to a ZIP file on disk, the rows kept in a list for the
  CSV, one upload at the end.

Everything runs against moto's server in a child process (``serve``): it creates the stage's
tables and buckets as the local plane does, writes one document through the repository, and
copies that item and a ~10 KB procNFe for every other document straight into its own backends,
which takes seconds instead of the hours of 50,000 API calls. Each export runs in a child process
of its own (``export``), so its peak RSS (``ru_maxrss`` from ``wait4``) is the export's alone.

    .venv/bin/python bench/export.py [--sizes 10000 50000]

The last line printed is one JSON object with the figures and their ratios.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[1]
STAGE = "bench"
ISSUER_CNPJ = "04252011000110"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)  # documents are 5 minutes apart: 10,000 of them span 35 days
_PYTHONPATH = f"{REPO}:{REPO / 'layers/fiscal_core/python'}"


def period(size: int) -> tuple[str, str]:
    """The issue period holding the first ``size`` documents."""
    return T0.isoformat(), (T0 + STEP * (size - 1)).isoformat()


# --- the moto server child ------------------------------------------------------------------


def serve(count: int) -> None:
    """Start moto, create the stage's resources, seed ``count`` documents; print the environment."""
    from local.aws import LocalAws

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on the console
    plane = LocalAws(stage=STAGE)
    plane.start()
    plane.create_resources()
    environment = plane.environment()
    queue = plane.client("sqs").create_queue(QueueName="bench-exports")["QueueUrl"]
    environment["FISCALMIX_EXPORTS_QUEUE_URL"] = queue
    os.environ.update(environment)
    _seed(plane, count)
    print(json.dumps(environment), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    plane.stop()


def _seed(plane: Any, count: int) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    from fiscal_core.storage.companies import CompanyRecord, CompanyRepository
    from fiscal_core.storage.documents import DocumentRepository
    from fiscal_core.storage.tables import bind_tables, physical_table_name
    from local.aws import LOCAL_ACCOUNT
    from local.fixtures.documents import Company, proc_nfe

    names = plane.names
    bind_tables(names.table_prefix)
    CompanyRepository().create(
        CompanyRecord("acc", "co", ISSUER_CNPJ, "ACME", "SP", created_at=T0, updated_at=T0)
    )
    template = proc_nfe(Company(ISSUER_CNPJ, "ACME COMERCIO LTDA"), number=1, issued_at=T0)
    # About 10 KB, as compressible as real NF-e XML: the generated procNFe plus its own notes.
    padding = "".join(
        f"<obsCont xCampo='nota{i}'><xTexto>ITEM {i} LOTE 2025</xTexto></obsCont>" for i in range(30)
    )
    body = template.xml.replace(b"</infNFe>", padding.encode() + b"</infNFe>", 1)
    first = _document(template.key, T0, body, names.documents_bucket)
    DocumentRepository().put_document(first)
    table = physical_table_name(names.table_prefix, "Documents")
    item = plane.client("dynamodb").get_item(
        TableName=table, Key={"company_key": {"S": "acc#co"}, "doc_key": {"S": f"KEY#{template.key}"}}
    )["Item"]
    s3 = s3_backends[LOCAL_ACCOUNT]["aws"]
    dynamodb = dynamodb_backends[LOCAL_ACCOUNT][names.region]
    for n in range(count):
        key = f"{template.key[:25]}{n:09d}{template.key[34:]}"
        data = body.replace(template.key.encode(), key.encode())
        doc = _document(key, T0 + STEP * n, data, names.documents_bucket)
        s3.put_object(names.documents_bucket, doc.s3_key or "", data)
        dynamodb.put_item(table, _item_like(item, doc, data))


def _document(key: str, issued_at: datetime, data: bytes, bucket: str) -> Any:
    from fiscal_core.storage.records import Direction, DocKind, DocStatus, DocType, Family, FiscalDocument
    from fiscal_core.sync.object_keys import document_object_key

    return FiscalDocument(
        account_id="acc", company_id="co", family=Family.NFE, doc_type=DocType.NFE, issued_at=issued_at,
        issuer_doc=ISSUER_CNPJ, status=DocStatus.AUTHORIZED, direction=Direction.OUT, kind=DocKind.FULL,
        access_key=key, model="55", series="1", number=int(key[25:34]), issuer_name="ACME COMERCIO LTDA",
        recipient_doc="11222333000181", recipient_name="CLIENTE", protocol="135250000000001",
        s3_key=document_object_key("acc", "co", "NFE", issued_at, key),
        sha256=hashlib.sha256(data).hexdigest(),
    )  # fmt: skip


def _item_like(template: dict[str, Any], doc: Any, data: bytes) -> dict[str, Any]:
    """The stored item of ``doc``: the repository's item for the first document, its fields replaced."""
    from fiscal_core.storage.attributes import format_ts

    item = copy.deepcopy(template)
    item["doc_key"] = {"S": f"KEY#{doc.access_key}"}
    item["access_key"] = {"S": doc.access_key}
    item["number"] = {"N": str(doc.number)}
    item["issued_at"] = {"S": format_ts(doc.issued_at)}
    item["s3_key"] = {"S": doc.s3_key}
    item["sha256"] = {"S": hashlib.sha256(data).hexdigest()}
    return item


# --- the export children --------------------------------------------------------------------


def export_with_worker(size: int) -> dict[str, Any]:
    """One SQS record through the worker's Lambda handler, continuations included."""
    from fiscal_core.exports.request import ExportFilters, ExportOptions, stored_filters, stored_options
    from fiscal_core.exports.task import ExportTask
    from fiscal_core.storage.exports import ExportRepository
    from fiscal_core.storage.tables import bind_tables
    from functions.export_worker.handler import lambda_handler
    from local.lambda_runtime import LocalLambdaContext

    bind_tables(os.environ["FISCALMIX_TABLE_PREFIX"])
    start, end = period(size)
    filters = ExportFilters.model_validate({"company_id": "co", "issued_from": start, "issued_to": end})
    job, _ = ExportRepository().create(
        "acc", "bench", stored_filters(filters), stored_options(ExportOptions())
    )
    sqs = boto3.client("sqs")
    body = ExportTask(account_id="acc", export_id=job.export_id).model_dump_json()
    began = time.perf_counter()
    while body:
        record = {
            "messageId": "m", "receiptHandle": "r", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "eventSourceARN": "arn",
            "awsRegion": os.environ["AWS_REGION"],
        }  # fmt: skip
        context = LocalLambdaContext(function_name="export-worker", timeout_seconds=900)
        assert lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
        messages = sqs.receive_message(QueueUrl=os.environ["FISCALMIX_EXPORTS_QUEUE_URL"]).get("Messages", [])
        body = messages[0]["Body"] if messages else ""
    seconds = time.perf_counter() - began
    done = ExportRepository().get("acc", job.export_id)
    return {"documents": done.processed_docs, "seconds": seconds, "zip_bytes": done.size_bytes}


def export_naively(size: int) -> dict[str, Any]:
    """The seed's flow: Scan pages of 100, one download at a time to disk, one upload at the end."""
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    table = f"{os.environ['FISCALMIX_TABLE_PREFIX']}-Documents"
    start, end = (
        datetime.fromisoformat(t).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for t in period(size)
    )
    rows: list[list[str]] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "export.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            start_key: Any = None
            while True:
                page = dynamodb.scan(
                    TableName=table, Limit=100,
                    FilterExpression="company_key = :c AND issued_at BETWEEN :s AND :e",
                    ExpressionAttributeValues={
                        ":c": {"S": "acc#co"}, ":s": {"S": start}, ":e": {"S": end + "~"},
                    },
                    **({"ExclusiveStartKey": start_key} if start_key else {}),
                )  # fmt: skip
                for item in page["Items"]:
                    local = Path(scratch) / "document.xml"
                    s3.download_file(
                        os.environ["FISCALMIX_DOCUMENTS_BUCKET"], item["s3_key"]["S"], str(local)
                    )
                    archive.write(local, f"{item['access_key']['S']}.xml")
                    rows.append([item["access_key"]["S"], item["issued_at"]["S"], item["number"]["N"]])
                start_key = page.get("LastEvaluatedKey")
                if not start_key:
                    break
            text = io.StringIO()
            csv.writer(text).writerows(rows)
            archive.writestr("documentos.csv", text.getvalue())
        s3.upload_file(str(path), os.environ["FISCALMIX_EXPORTS_BUCKET"], "naive/export.zip")
        zip_bytes = path.stat().st_size
    return {"documents": len(rows), "seconds": time.perf_counter() - began, "zip_bytes": zip_bytes}


# --- the parent -----------------------------------------------------------------------------


def _child(args: list[str], environment: dict[str, str] | None = None) -> tuple[dict[str, Any], int]:
    """Run this script as a child; its last JSON line and its peak RSS in KiB."""
    child = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, **(environment or {}), "PYTHONPATH": _PYTHONPATH},
    )  # fmt: skip
    assert child.stdout is not None
    output = child.stdout.read()
    # Reaped here rather than by Popen: wait4 hands back the child's own resource usage.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{args} failed with exit code {child.returncode}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()
    quiet = {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(max(args.sizes))], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": _PYTHONPATH},
    )  # fmt: skip
    assert server.stdout is not None
    assert server.stdin is not None
    environment = {**json.loads(server.stdout.readline()), **quiet}
    seeded = time.perf_counter() - started
    figures: dict[str, Any] = {}
    try:
        for size in args.sizes:
            for mode in ("naive", "worker"):
                result, rss_kib = _child(["export", mode, str(size)], environment)
                assert result["documents"] == size, result
                figures[f"{mode} {size // 1000}k"] = {
                    "docs_per_s": round(size / result["seconds"], 1), "seconds": round(result["seconds"], 1),
                    "peak_rss_mb": round(rss_kib / 1024, 1), "zip_mb": round(result["zip_bytes"] / 2**20, 1),
                }  # fmt: skip
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    for name, figure in figures.items():
        print(f"{name:>11}: {figure}")
    ratios = {}
    for size in args.sizes:
        k = f"{size // 1000}k"
        worker, naive = figures[f"worker {k}"], figures[f"naive {k}"]
        ratios[f"worker vs naive {k}"] = round(worker["docs_per_s"] / naive["docs_per_s"], 2)
    if len(args.sizes) > 1:
        small, large = (f"worker {min(args.sizes) // 1000}k", f"worker {max(args.sizes) // 1000}k")
        ratios[f"rss {large.split()[1]} vs {small.split()[1]}"] = round(
            figures[large]["peak_rss_mb"] / figures[small]["peak_rss_mb"], 3
        )
    summary = {"benchmark": "export", "python": sys.version.split()[0], "seed_seconds": round(seeded, 1)}
    print(json.dumps({**summary, "figures": figures, "ratios": ratios}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "export":
        run = export_with_worker if sys.argv[2] == "worker" else export_naively
        print(json.dumps(run(int(sys.argv[3]))))
    else:
        main()
