"""The hardened parser: hostile XML is refused quickly and says why; damaged input says what is wrong."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fiscal_core.errors import DocumentError
from fiscal_core.xmlsafe import DEFAULT_MAX_BYTES, parse_xml
from tests.unit.documents.hostile import billion_laughs, quadratic_blowup

SECRET = "TOP-SECRET-7f3a9c"
# Hostile files are refused, never expanded: a hang guard for the module (a bomb that expanded
# would take minutes), not a speed bound; bench/ measures speed.
pytestmark = pytest.mark.timeout(60)


def refused(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The message of the DocumentError parsing ``data`` raises."""
    with pytest.raises(DocumentError) as raised:
        parse_xml(data, max_bytes=max_bytes)
    return str(raised.value)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket on loopback that records whether anything connected to it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    yield server
    server.close()


def nobody_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return True
    connection.close()
    return False


def test_an_entity_expansion_bomb_is_refused() -> None:
    message = refused(billion_laughs())

    assert "entity-expansion bomb" in message


def test_a_quadratic_blowup_is_refused() -> None:
    assert "refused" in refused(quadratic_blowup())


@pytest.mark.parametrize(
    "template",
    [
        '<!DOCTYPE x [<!ENTITY s SYSTEM "file://{path}">]><x>&s;</x>',
        '<!DOCTYPE x [<!ENTITY s SYSTEM "file://{path}">]><x a="&s;"/>',
        '<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{path}"> %p;]><x/>',
        '<!DOCTYPE x SYSTEM "file://{path}"><x/>',
    ],
)
def test_external_entities_to_local_files_are_refused_unread(template: str, secret_file: Path) -> None:
    message = refused(template.format(path=secret_file).encode())

    assert "refused" in message or "external entity" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "template",
    [
        '<!DOCTYPE x [<!ENTITY s SYSTEM "http://127.0.0.1:{port}/s">]><x>&s;</x>',
        '<!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/x.dtd"><x/>',
        '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p"> %p;]><x/>',
    ],
)
def test_external_entities_over_the_network_are_refused_without_connecting(
    template: str, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]

    assert "DOCTYPE" in refused(template.format(port=port).encode())
    assert nobody_connected(listener)


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE x [<!ENTITY greeting "hello">]><x>&greeting;</x>',
        b'<!DOCTYPE x [<!ENTITY unused "hello">]><x/>',
        b"<!DOCTYPE x><x/>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'.encode("utf-16"),
    ],
)
def test_any_doctype_is_refused(data: bytes) -> None:
    assert "declares a DOCTYPE" in refused(data)


def test_input_over_the_size_limit_is_refused_before_parsing() -> None:
    message = refused(b"<a>" + b"x" * 2000 + b"</a>", max_bytes=1000)

    assert message == "document too large: 2007 bytes, the limit is 1000"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty document: 0 bytes"),
        (b" \r\n\t ", "empty document: 5 bytes"),
        (os.urandom(2048).replace(b"<", b"\x00"), "not XML"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed data (a docZip must be decoded first)"),
        (b"PK\x03\x04\x14\x00", "a ZIP archive"),
        (b"%PDF-1.7\n", "a PDF file"),
        (b"just some text", "not XML: no root element found"),
        (b'<?xml version="1.0"?><nfeProc><NFe><infNFe>', "malformed or truncated XML"),
        (b"<a><b></a>", "malformed or truncated XML"),
        ('<?xml version="1.0" encoding="UTF-8"?><a>ação</a>'.encode("latin-1"), "wrong character encoding"),
        (b'<?xml version="1.0" encoding="EBCDIC-XYZ"?><a/>', "wrong character encoding"),
        (b"<a>&undeclared;</a>", "malformed or truncated XML"),
    ],
)
def test_damaged_input_says_what_is_wrong(data: bytes, problem: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse_xml(data)

    assert problem in str(raised.value)


def test_a_truncated_document_says_where_it_stopped() -> None:
    with pytest.raises(DocumentError, match=r"line 3, column \d+"):
        parse_xml(b"<a>\n<b>x</b>\n<c>")


def test_valid_xml_parses_in_any_declared_encoding_without_comments() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!-- note --><a>ação<!-- inner --></a>'

    root = parse_xml(text.encode("utf-16"))

    assert root.tag == "a" and root.text == "ação"
    assert not root.xpath("//comment()")


def test_threads_parse_concurrently_with_their_own_parsers() -> None:
    documents = [f"<doc><n>{n}</n>{'<pad/>' * 200}</doc>".encode() for n in range(400)]

    def number(data: bytes) -> str:
        found = parse_xml(data).findtext("n")
        assert found is not None
        return found

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(number, documents))

    assert numbers == [str(n) for n in range(400)]
