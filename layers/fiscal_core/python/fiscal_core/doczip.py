"""docZip: how SEFAZ and the ADN ship each document, gzip-compressed and then base64-encoded.

Decoding is bounded: a few hundred kilobytes of gzip can expand to gigabytes, so the output is
produced at most ``max_bytes + 1`` bytes at a time and a bomb is refused without ever holding its
expanded size in memory.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Final

from fiscal_core.errors import DocumentError

DEFAULT_MAX_BYTES: Final = 5 * 1024 * 1024
"""The largest decoded document accepted by default; real fiscal XML is a few hundred KB at most."""

_GZIP_WBITS: Final = 31  # 16 + 15: a gzip header and trailer around a deflate stream of 32 KiB window
_BASE64_WHITESPACE: Final = b" \t\r\n"


def decode_doczip(text: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decode a docZip (base64 of gzip) into the document's bytes; raise DocumentError on failure.

    Refuses invalid base64, data that is not gzip, a truncated or corrupted gzip stream, trailing
    data, and any document that would expand beyond ``max_bytes``.
    """
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
        compressed = base64.b64decode(raw.translate(None, _BASE64_WHITESPACE), validate=True)
    except ValueError as exc:  # binascii.Error, or UnicodeEncodeError for non-ASCII text
        raise DocumentError(f"docZip is not valid base64: {exc}") from None
    inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        document = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise DocumentError(f"docZip is not valid gzip data: {exc}") from None
    if len(document) > max_bytes:
        raise DocumentError(
            f"docZip expands beyond {max_bytes} bytes; refused as a possible decompression bomb"
        )
    if not inflater.eof:
        raise DocumentError("docZip is truncated: the gzip stream ends before its trailer")
    if inflater.unused_data:
        raise DocumentError(f"docZip has {len(inflater.unused_data)} bytes of data after the gzip stream")
    return document


def encode_doczip(document: bytes) -> str:
    """Encode a document as a docZip (gzip, then base64), as the SEFAZ simulator sends it.

    The gzip header carries no timestamp, so the same document always encodes to the same text.
    """
    return base64.b64encode(gzip.compress(document, mtime=0)).decode("ascii")
