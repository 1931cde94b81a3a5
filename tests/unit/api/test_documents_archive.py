"""The ZIP guard: bombs, path tricks, links, nesting, lies and damage, built here byte by byte."""

from __future__ import annotations

import io
import os
import struct
import zipfile

import pytest

from fiscal_core.api.documents_archive import ArchiveLimits, ArchiveRejected, Entry, read_archive

XML = b"<nfeProc>" + b"<det>item</det>" * 200 + b"</nfeProc>"
MIB = 1024 * 1024


def make_zip(*entries: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


DEFAULT_LIMITS = ArchiveLimits()


def entries(data: bytes, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[Entry]:
    return list(read_archive(data, limits))


def patch_central_directory(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Rewrite one field of every central directory header (``PK\\x01\\x02``)."""
    patched = bytearray(data)
    start = 0
    while (start := patched.find(b"PK\x01\x02", start)) != -1:
        struct.pack_into(fmt, patched, start + offset, value)
        start += 4
    return bytes(patched)


def test_files_come_out_one_by_one_without_their_directories() -> None:
    data = make_zip(("notas/2026/02/a.xml", XML), ("b.xml", XML), ("notas/", b""), ("__MACOSX/._a.xml", b"x"))
    assert entries(data) == [Entry("a.xml", XML), Entry("b.xml", XML)]


@pytest.mark.parametrize(
    "name", ["../evil.xml", "a/../../evil.xml", "/etc/passwd", "C:\\Windows\\evil.xml", "a\\..\\b.xml"]
)
def test_absolute_and_parent_names_are_refused(name: str) -> None:
    (entry,) = entries(make_zip((name, XML)))
    assert entry.data is None
    assert entry.problem == "unsafe file name (an absolute path or '..'): refused"


def test_symbolic_links_are_refused() -> None:
    link = zipfile.ZipInfo("link.xml")
    link.external_attr = (0o120777 << 16) | 0x20
    (entry,) = entries(make_zip((link, b"/etc/passwd")))
    assert (entry.name, entry.data, entry.problem) == ("link.xml", None, "a symbolic link: refused")


def test_nested_archives_are_not_opened_by_name_or_by_content() -> None:
    inner = make_zip(("inside.xml", XML))
    by_name, by_content = entries(make_zip(("more.zip", inner), ("looks.xml", inner)))
    assert (
        by_name.problem
        == by_content.problem
        == "an archive inside the archive: nested archives are not opened"
    )


def test_a_zip_bomb_entry_is_refused_by_its_ratio_before_it_is_inflated() -> None:
    bomb = make_zip(("bomb.xml", b"\0" * (4 * MIB)))
    assert len(bomb) < 10_000
    (entry,) = entries(bomb)
    assert entry.data is None
    assert entry.problem is not None
    assert entry.problem.startswith("compresses ")
    assert entry.problem.endswith(":1, as decompression bombs do: refused")


def test_an_entry_over_the_size_limit_is_refused_even_when_it_compresses_poorly() -> None:
    noise = os.urandom(MIB + 1)
    (entry,) = entries(make_zip(("big.xml", noise)), ArchiveLimits(max_entry_bytes=MIB))
    assert entry.problem == "larger than 1 MB uncompressed: refused"


def test_an_archive_that_expands_beyond_the_total_is_refused_whole() -> None:
    many_bombs = make_zip(*((f"b{i}.xml", b"\0" * (4 * MIB)) for i in range(9)))
    with pytest.raises(ArchiveRejected, match=r"expands to 36\.0 MB; at most 32 MB"):
        entries(many_bombs)


def test_too_many_entries_are_refused_whole() -> None:
    data = make_zip(*((f"n{i}.xml", b"<a/>") for i in range(201)))
    with pytest.raises(ArchiveRejected, match="holds 201 files; import at most 200"):
        entries(data)


def test_an_entry_that_lies_about_its_size_never_yields_more_than_it_declared() -> None:
    # The central directory says 100 bytes; the data inflates to 1 MiB. zipfile stops at the
    # declared size and the CRC check then fails: the entry is damaged, never a megabyte.
    honest = make_zip(("liar.xml", b"A" * MIB))
    liar = patch_central_directory(honest, 24, "<I", 100)
    (entry,) = entries(liar, ArchiveLimits(max_ratio=10**9))
    assert entry.data is None
    assert entry.problem is not None
    assert entry.problem.startswith("damaged inside the archive")


def test_a_corrupted_entry_is_damaged_and_the_others_still_come_out() -> None:
    data = bytearray(make_zip(("bad.xml", XML), ("good.xml", XML)))
    first_data = data.find(b"bad.xml") + len("bad.xml")
    data[first_data + 5] ^= 0xFF
    bad, good = entries(bytes(data))
    assert bad.data is None
    assert bad.problem is not None
    assert bad.problem.startswith("damaged inside the archive")
    assert good == Entry("good.xml", XML)


def test_encrypted_and_exotic_entries_are_refused() -> None:
    encrypted = patch_central_directory(make_zip(("secret.xml", XML)), 8, "<H", 0x1)
    (entry,) = entries(encrypted)
    assert entry.problem == "encrypted: upload the archive without a password"
    bzip = make_zip(("b.xml", XML), method=zipfile.ZIP_BZIP2)
    (entry,) = entries(bzip)
    assert entry.problem is not None
    assert entry.problem.startswith("compressed with a method other than deflate")


@pytest.mark.parametrize(
    "data", [b"", b"not a zip", b"PK\x03\x04" + os.urandom(200), make_zip(("a.xml", XML))[:-30]]
)
def test_what_is_not_a_readable_zip_is_refused_whole(data: bytes) -> None:
    with pytest.raises(ArchiveRejected, match="not a readable ZIP archive"):
        entries(data)


def test_an_empty_archive_is_refused() -> None:
    with pytest.raises(ArchiveRejected, match="holds no files"):
        entries(make_zip(("only/", b"")))
