"""The exports resource: request an export, follow it, download its ZIP.

Who may do what follows the documents list: an export of one company needs a role on it
(viewer or higher); an export across the account's companies is for its owners and admins.
Owners and admins see every export of the account; a member sees the exports they requested,
while they still hold a role on the exported company. Anyone else, in this account or another,
gets the 404 of an id that names nothing.

``POST /exports`` is idempotent on the client's key: the same key and the same request give the
same export; the same key with another request is refused (422), as the IETF Idempotency-Key
draft advises. Every download link is written to the audit log first.
"""

from __future__ import annotations

from fiscal_core.api.context import RequestContext
from fiscal_core.api.documents_filters import CompanyIdentity, IndexPlan, plan_query
from fiscal_core.api.documents_models import DownloadLink
from fiscal_core.api.problems import ApiError, DependencyUnavailable, NotFound
from fiscal_core.api.roles import check_id, company_for, company_role, is_account_admin
from fiscal_core.errors import InvalidValue
from fiscal_core.exports.api_models import ExportOut, ExportPage
from fiscal_core.exports.api_services import LINK_TTL, ExportServices
from fiscal_core.exports.errors import ObjectMissing, ServiceUnavailable, s3_call
from fiscal_core.exports.naming import download_filename
from fiscal_core.exports.request import (
    ExportOptions,
    ExportRequest,
    request_fingerprint,
    stored_filters,
    stored_options,
)
from fiscal_core.exports.task import ExportTask
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.exports import ExportRecord, ExportStatus

EMPTY_MESSAGE = "No document matched the filters: the ZIP holds the spreadsheets with their header row only."
ZIP_CONTENT_TYPE = "application/zip"


class IdempotencyKeyReused(ApiError):
    """The key already named another export request of this account."""

    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency key already used"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different export request. Send a new key "
            "for a new export, or the same request to get the export that key created."
        )


class ExportNotReady(ApiError):
    """The export has no ZIP to download (yet, or ever)."""

    status = 409
    slug = "export-not-ready"
    title = "Export not ready"


class ExportExpired(ApiError):
    """The ZIP was deleted by the bucket's lifecycle rule."""

    status = 410
    slug = "export-expired"
    title = "Export expired"


def create_export(
    ctx: RequestContext, services: ExportServices, request: ExportRequest, header_key: str | None
) -> ExportOut:
    """Record the export and queue it, or return the export this idempotency key already made."""
    key = _idempotency_key(header_key, request.idempotency_key)
    filters, options = request.filters, request.options
    company = _exportable_company(ctx, filters.company_id)
    if company is None and not options.layout.has_company:
        raise InvalidValue(
            "options.layout",
            "an export of every company needs the company folder (company/type/year-month or "
            "company): the same document can belong to two of your companies",
        )
    plan = plan_query(ctx.account_id, filters.query(), company=company, now=ctx.now)
    if not isinstance(plan, IndexPlan):  # the export filters have no key or number search
        raise InvalidValue("filters", "an export takes the documents list's filters")
    stored = stored_filters(filters), stored_options(options)
    job, created = services.jobs.create(ctx.account_id, ctx.user.user_id, *stored, idempotency_key=key)
    if not created and (
        request_fingerprint(dict(job.filters), dict(job.options)) != request_fingerprint(*stored)
        or not _visible(ctx, job)
    ):
        raise IdempotencyKeyReused()
    if job.status == ExportStatus.QUEUED:
        # Also on a repeat: the first request may have recorded the job and lost its message.
        _send(services, ExportTask(account_id=ctx.account_id, export_id=job.export_id))
    if created:
        details = {"filters": stored[0], "options": stored[1]}
        ctx.audit("export.create", "export", job.export_id, details, company_id=filters.company_id)
    return export_out(job)


def list_exports(ctx: RequestContext, services: ExportServices, limit: int, cursor: str | None) -> ExportPage:
    """A page of the exports the caller can see, newest first (a member's page may hold fewer)."""
    page = services.jobs.list_exports(ctx.account_id, limit=limit, cursor=cursor)
    return ExportPage(items=[export_out(j) for j in page.items if _visible(ctx, j)], next_cursor=page.cursor)


def get_export(ctx: RequestContext, services: ExportServices, export_id: str) -> ExportOut:
    """One export the caller can see."""
    return export_out(_visible_job(ctx, services, export_id))


def download_link(ctx: RequestContext, services: ExportServices, export_id: str) -> DownloadLink:
    """A link to the ZIP, valid one hour; audited before it is handed out."""
    job = _visible_job(ctx, services, export_id)
    if job.status != ExportStatus.SUCCEEDED or job.s3_key is None:
        raise ExportNotReady(_not_ready(job))
    filename = download_filename(job.export_id)
    try:
        with s3_call("find the export's ZIP"):
            services.s3.head_object(Bucket=services.bucket, Key=job.s3_key)
            url = services.s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": services.bucket,
                    "Key": job.s3_key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                    "ResponseContentType": ZIP_CONTENT_TYPE,
                },
                ExpiresIn=int(LINK_TTL.total_seconds()),
            )
    except ObjectMissing as exc:
        raise ExportExpired(
            "This export's ZIP has expired and was deleted; request the export again."
        ) from exc
    except ServiceUnavailable as exc:
        raise DependencyUnavailable(str(exc)) from exc
    ctx.audit("export.download", "export", job.export_id, {"size_bytes": job.size_bytes})
    return DownloadLink(
        url=url, expires_at=services.clock() + LINK_TTL, filename=filename, content_type=ZIP_CONTENT_TYPE
    )


def export_out(job: ExportRecord) -> ExportOut:
    """An export as the API shows it."""
    empty = job.status == ExportStatus.SUCCEEDED and job.total_docs == 0
    return ExportOut(
        id=job.export_id, status=job.status, progress=job.progress, total_docs=job.total_docs,
        processed_docs=job.processed_docs, failed_docs=job.failed_docs, size_bytes=job.size_bytes,
        filters=dict(job.filters), options=ExportOptions.model_validate(dict(job.options)),
        errors=list(job.errors),
        message=EMPTY_MESSAGE if empty else None, requested_by=job.requested_by, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at, expires_at=job.expires_at,
    )  # fmt: skip


def _idempotency_key(header: str | None, body: str | None) -> str | None:
    if header is not None and body is not None and header != body:
        raise InvalidValue("idempotency_key", "differs from the Idempotency-Key header; send the key once")
    return header or body


def _exportable_company(ctx: RequestContext, company_id: str | None) -> CompanyIdentity | None:
    if company_id is None:
        if not is_account_admin(ctx):
            raise InvalidValue(
                "filters.company_id",
                "give the company to export: an export across companies is for the account's "
                "owners and admins",
            )
        return None
    company = company_for(ctx, company_id, CompanyRole.VIEWER, "export its documents")
    return CompanyIdentity(company.company_id, company.cnpj, company.uf)


def _visible(ctx: RequestContext, job: ExportRecord) -> bool:
    if is_account_admin(ctx):
        return True
    company_id = job.filters.get("company_id")
    return (
        job.requested_by == ctx.user.user_id
        and isinstance(company_id, str)
        and company_role(ctx, company_id) is not None
    )


def _visible_job(ctx: RequestContext, services: ExportServices, export_id: str) -> ExportRecord:
    check_id(export_id, "export")
    try:
        job = services.jobs.get(ctx.account_id, export_id)
    except RecordNotFound as exc:
        raise NotFound("export") from exc
    if not _visible(ctx, job):
        raise NotFound("export")
    return job


def _not_ready(job: ExportRecord) -> str:
    if job.status == ExportStatus.FAILED:
        reason = "; ".join(job.errors) or "see its errors"
        return f"This export failed ({reason}); request it again."
    return f"This export is {job.status} ({job.progress}%): poll it until its status is SUCCEEDED."


def _send(services: ExportServices, task: ExportTask) -> None:
    try:
        services.queue.send(task)
    except ServiceUnavailable as exc:
        raise DependencyUnavailable(str(exc)) from exc
