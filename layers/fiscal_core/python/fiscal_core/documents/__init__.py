"""Fiscal documents as FiscalMix sees them: read any supported XML into typed metadata.

``read_document(xml)`` returns a DocumentMetadata or raises DocumentError (UnsupportedDocument
for well-formed XML of a layout FiscalMix does not read); ``extract_metadata(xml)`` never raises
for bad input and returns an Extraction instead. Which element feeds which field is in
``catalog``. The access key is checked for shape, not for its check digit (sample and test
documents carry keys with wrong digits): call ``identifiers.parse_access_key`` where
authenticity matters.
"""

from fiscal_core.documents.metadata import DocType, DocumentMetadata, Extraction, Family, Kind, Status
from fiscal_core.documents.reader import extract_metadata, read_document

__all__ = [
    "DocType",
    "DocumentMetadata",
    "Extraction",
    "Family",
    "Kind",
    "Status",
    "extract_metadata",
    "read_document",
]
