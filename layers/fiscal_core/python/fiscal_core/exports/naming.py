"""Names inside the ZIP and in the exports bucket.

Inside the ZIP a document is ``<folders>/<access key>.xml`` (``<type>-<external id>.xml``
without a key), its PDF the same name in ``.pdf``, its events ``<stem>-<tpEvento>-<seq>.xml``
beside it. Folders follow the export's layout; the month is the fiscal month, in Brasília time,
as the access key itself counts it. A name is unique in the archive without remembering the
names already written: an access key is unique within a company, and an export across
companies always has the company's folder.
"""

from __future__ import annotations

import re
from typing import Final

from fiscal_core.api.documents_filters import BRASILIA
from fiscal_core.exports.request import FolderLayout
from fiscal_core.storage.records import FiscalDocument, FiscalEvent

CSV_NAME: Final = "documentos.csv"
XLSX_NAME: Final = "documentos.xlsx"
# An external id may hold anything; in a path inside a ZIP only these are harmless.
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]")


def zip_key(account_id: str, export_id: str) -> str:
    """The export's ZIP in the exports bucket."""
    return f"{account_id}/{export_id}/fiscalmix-export-{export_id}.zip"


def work_prefix(account_id: str, export_id: str) -> str:
    """Where an export keeps its checkpoint while it spans invocations (deleted when it ends)."""
    return f"{account_id}/{export_id}/work/"


def download_filename(export_id: str) -> str:
    """The file name a browser saves the ZIP as."""
    return f"fiscalmix-export-{export_id}.zip"


def document_stem(layout: FolderLayout, company_cnpj: str, doc: FiscalDocument) -> str:
    """The document's path in the ZIP, without extension."""
    month = doc.issued_at.astimezone(BRASILIA).strftime("%Y-%m")
    folders = {
        FolderLayout.COMPANY_TYPE_MONTH: (company_cnpj, doc.doc_type.value, month),
        FolderLayout.TYPE_MONTH: (doc.doc_type.value, month),
        FolderLayout.COMPANY: (company_cnpj,),
        FolderLayout.FLAT: (),
    }[layout]
    name = doc.access_key or f"{doc.doc_type.value}-{_UNSAFE.sub('_', doc.external_id or '')}"
    return "/".join((*folders, name))


def event_name(stem: str, event: FiscalEvent) -> str:
    """An event's path: next to its document, named by tpEvento and sequence."""
    return f"{stem}-{event.type_code}-{event.seq:03d}.xml"
