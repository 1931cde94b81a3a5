"""Exports: any selection of stored documents as one ZIP on S3, with a spreadsheet of them inside.

The API (:mod:`fiscal_core.exports.api`) records an export job and queues an
:class:`~fiscal_core.exports.task.ExportTask`; the export worker
(:mod:`fiscal_core.exports.worker`) reads the selection by Query, streams every XML from the
documents bucket into a ZIP that goes to the exports bucket by multipart upload, and continues
in a new invocation from a checkpoint when one is not enough. docs/exports.md tells the whole
story: formats, limits, the checkpoint and why a retried message never makes a second ZIP.
"""
