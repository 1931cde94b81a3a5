"""docZip decoding is bounded and strict; encoding round-trips."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib

import pytest

from fiscal_core.doczip import DEFAULT_MAX_BYTES, decode_doczip, encode_doczip
from fiscal_core.errors import DocumentError
from tests.unit.documents.samples import sample

GIB = 1 << 30
MIB = 1 << 20


@pytest.fixture(scope="module")
def gzip_bomb() -> str:
    """1 GiB of zeros, gzip-compressed (about 1 MB) and base64-encoded, built without holding 1 GiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(GIB // MIB)]
    parts.append(compressor.flush())
    return base64.b64encode(b"".join(parts)).decode("ascii")


def test_a_document_round_trips() -> None:
    document = sample("nfe/samples/v4_0/procNFe.xml").read_bytes()

    encoded = encode_doczip(document)

    assert decode_doczip(encoded) == document
    assert decode_doczip(encoded.encode("ascii")) == document
    assert gzip.decompress(base64.b64decode(encoded)) == document  # what any SEFAZ client does


def test_encoding_is_deterministic() -> None:
    assert encode_doczip(b"<a/>") == encode_doczip(b"<a/>")


def test_line_breaks_in_the_base64_text_are_tolerated() -> None:
    encoded = encode_doczip(b"<resNFe/>" * 50)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))

    assert decode_doczip(wrapped) == b"<resNFe/>" * 50


@pytest.mark.timeout(60)  # a hang guard: inflating the gigabyte would take minutes
def test_a_gzip_bomb_is_refused_without_inflating_it(gzip_bomb: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError, match=f"expands beyond {DEFAULT_MAX_BYTES} bytes"):
            decode_doczip(gzip_bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The output up to the limit (and zlib's copy of it) plus the input's copies: a few times
    # the limit, against the gigabyte the bomb expands to.
    assert peak < 4 * DEFAULT_MAX_BYTES


def test_the_limit_is_a_parameter() -> None:
    encoded = encode_doczip(b"x" * 1000)

    assert decode_doczip(encoded, max_bytes=1000) == b"x" * 1000
    with pytest.raises(DocumentError, match="expands beyond 999 bytes"):
        decode_doczip(encoded, max_bytes=999)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not base64!", "not valid base64"),
        ("ação", "not valid base64"),
        (base64.b64encode(b"<plain>xml</plain>").decode(), "not valid gzip data"),
        (base64.b64encode(zlib.compress(b"<a/>")).decode(), "not valid gzip data"),
        (base64.b64encode(gzip.compress(b"<a/>" * 100)[:-12]).decode(), "truncated"),
        (
            base64.b64encode(gzip.compress(b"<a/>") + b"junk").decode(),
            "4 bytes of data after the gzip stream",
        ),
    ],
)
def test_damaged_doczips_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(DocumentError, match=problem):
        decode_doczip(text)


def test_a_corrupted_stream_fails_its_checksum() -> None:
    compressed = bytearray(gzip.compress(b"<resNFe>" + b"0123456789" * 100 + b"</resNFe>"))
    compressed[-5] ^= 0xFF  # inside the CRC-32 of the trailer

    with pytest.raises(DocumentError, match="not valid gzip data"):
        decode_doczip(base64.b64encode(bytes(compressed)))
