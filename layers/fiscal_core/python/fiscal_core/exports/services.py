"""What the export worker works with, built once per cold start, and the selection it reads.

Tests build :class:`WorkerServices` themselves with their own clients, repositories, renderer,
part size and clock; the Lambda builds it from its environment (:mod:`fiscal_core.exports.runtime`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fiscal_core.api.documents_filters import CompanyIdentity, IndexPlan, plan_query
from fiscal_core.api.pdf import render_pdf
from fiscal_core.exports.bodies import Renderer
from fiscal_core.exports.checkpoint import CheckpointStore
from fiscal_core.exports.errors import ExportError
from fiscal_core.exports.multipart import DEFAULT_PART_SIZE
from fiscal_core.exports.naming import work_prefix
from fiscal_core.exports.request import ExportFilters
from fiscal_core.exports.task import ExportQueue
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.companies import CompanyRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.exports import ExportRecord, ExportRepository
from fiscal_core.storage.records import FiscalDocument

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class WorkerServices:
    """The worker's adapters and tuning."""

    s3: S3Client
    exports_bucket: str
    documents_bucket: str
    queue: ExportQueue
    jobs: ExportRepository = field(default_factory=ExportRepository)
    documents: DocumentRepository = field(default_factory=DocumentRepository)
    companies: CompanyRepository = field(default_factory=CompanyRepository)
    renderer: Renderer = render_pdf
    part_size: int = DEFAULT_PART_SIZE
    threads: int = 16
    tmpdir: str = field(default_factory=tempfile.gettempdir)
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = utc_now


def checkpoint_store(services: WorkerServices, account_id: str, export_id: str) -> CheckpointStore:
    """Where an export's checkpoint lives."""
    return CheckpointStore(services.s3, services.exports_bucket, work_prefix(account_id, export_id))


class Companies:
    """The CNPJ of each company an export meets, read once (an account has a bounded number)."""

    def __init__(self, repository: CompanyRepository, account_id: str) -> None:
        self._repository = repository
        self._account_id = account_id
        self._cnpj: dict[str, str] = {}

    def cnpj(self, company_id: str) -> str:
        """The company's CNPJ (RecordNotFound if the company is gone)."""
        if company_id not in self._cnpj:
            self._cnpj[company_id] = self._repository.get(self._account_id, company_id).cnpj
        return self._cnpj[company_id]


def plan_for(job: ExportRecord, services: WorkerServices) -> IndexPlan:
    """The index Query of the job's selection, planned as the documents list plans it."""
    query = ExportFilters.model_validate(dict(job.filters)).query()
    company = None
    if query.company_id is not None:
        try:
            record = services.companies.get(job.account_id, query.company_id)
        except RecordNotFound as exc:
            raise ExportError("the company this export selects no longer exists in the account") from exc
        company = CompanyIdentity(record.company_id, record.cnpj, record.uf)
    plan = plan_query(job.account_id, query, company=company, now=services.now())
    if not isinstance(plan, IndexPlan):  # the API refuses such filters for exports
        raise ExportError("an export reads a list of documents, not a search by key or number")
    return plan


def selection(
    jobs: ExportRepository, plan: IndexPlan, cursor: str | None
) -> Generator[FiscalDocument, None, None]:
    """Every document of the plan from ``cursor`` on, oldest first, one projected Query page at a time."""
    start, end = plan.flt.start, plan.flt.end
    while True:
        page = jobs.export_page(plan.index, plan.partition, start, end, cursor=cursor)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor
