"""Reading an uploaded ZIP of XMLs without trusting anything it says about itself.

A ZIP can claim small sizes and expand to gigabytes (a zip bomb), hold thousands of entries,
name files ``../../etc/passwd`` or ``/abs/path``, carry symbolic links, encrypted or exotic
entries, or other archives. Nothing is ever written to disk here, but every one of those is
refused anyway, so what reaches the XML reader is bytes of bounded size:

- the archive as a whole: at most ``max_entries`` files and ``max_total_bytes`` declared
  uncompressed, checked before any entry is read (so an import never half-happens because of
  a limit met halfway);
- each entry: stored or deflated only, at most ``max_entry_bytes`` declared, a compression
  ratio no bomb stays under, read through a capped stream (zipfile stops at the declared size
  and its CRC check then fails if the data says otherwise);
- names: directory components are ignored, absolute and ``..`` names refused; archives inside
  the archive are not opened.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from fiscal_core.api.problems import ApiError

_MIB: Final = 1024 * 1024
_SYMLINK: Final = 0o120000
_FILE_TYPE_MASK: Final = 0o170000
_ENCRYPTED_FLAG: Final = 0x1
_METHODS: Final = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ARCHIVE_SUFFIXES: Final = (".zip", ".jar", ".gz", ".tgz", ".tar", ".rar", ".7z", ".bz2", ".xz")
_ARCHIVE_MAGIC: Final = (b"PK\x03\x04", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
# What macOS's Finder adds to every ZIP it makes: resource forks, never a document.
_FINDER_METADATA: Final = re.compile(r"(^|/)(__MACOSX/|\._)")
_MAX_NAME_CHARS: Final = 200


class ArchiveRejected(ApiError):
    """The archive as a whole cannot be imported (damaged, too many files, too large)."""

    status = 422
    slug = "archive-rejected"
    title = "Archive rejected"


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """The bounds an uploaded archive must stay within.

    Sized for the API function (256 MB, 10 s): every accepted XML is held until the batch is
    stored, and 200 documents are stored well inside the timeout.
    """

    max_entries: int = 200
    max_entry_bytes: int = 5 * _MIB
    max_total_bytes: int = 32 * _MIB
    # XML deflates 5:1 to 20:1; 100:1 leaves room for repetitive files and none for a bomb.
    max_ratio: int = 100


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the archive: its name without directories, and its bytes or why not."""

    name: str
    data: bytes | None
    problem: str | None = None


def read_archive(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> Iterator[Entry]:
    """The archive's files one at a time; ArchiveRejected before the first if it is unusable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArchiveRejected(f"The upload is not a readable ZIP archive ({exc}).") from exc
    with archive:
        files = [i for i in archive.infolist() if not i.is_dir() and not _FINDER_METADATA.search(i.filename)]
        _check_archive(files, limits)
        for info in files:
            yield _entry(archive, info, limits)


def _check_archive(files: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if not files:
        raise ArchiveRejected("The ZIP archive holds no files.")
    if len(files) > limits.max_entries:
        raise ArchiveRejected(
            f"The ZIP archive holds {len(files)} files; import at most {limits.max_entries} "
            "per request (split it into several archives)."
        )
    declared = sum(i.file_size for i in files)
    if declared > limits.max_total_bytes:
        raise ArchiveRejected(
            f"The ZIP archive expands to {declared / _MIB:.1f} MB; at most "
            f"{limits.max_total_bytes // _MIB} MB per request is imported."
        )


def _entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> Entry:
    name = base_name(info.filename)
    problem = _refusal(info, name, limits)
    if problem is not None:
        return Entry(name, None, problem)
    try:
        with archive.open(info) as stream:
            content = stream.read(limits.max_entry_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        return Entry(name, None, f"damaged inside the archive ({exc})")
    if len(content) > limits.max_entry_bytes:
        return Entry(name, None, _too_large(limits))
    if content.startswith(_ARCHIVE_MAGIC):
        return Entry(name, None, "an archive inside the archive: nested archives are not opened")
    return Entry(name, content)


def _refusal(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> str | None:
    """Why an entry is refused from its header alone, or None: the first failed check, in order."""
    raw = info.filename.replace("\\", "/")
    ratio = info.file_size // max(info.compress_size, 1)
    checks = (
        (
            raw.startswith("/") or bool(_DRIVE.match(raw)) or ".." in raw.split("/"),
            "unsafe file name (an absolute path or '..'): refused",
        ),
        ((info.external_attr >> 16) & _FILE_TYPE_MASK == _SYMLINK, "a symbolic link: refused"),
        (bool(info.flag_bits & _ENCRYPTED_FLAG), "encrypted: upload the archive without a password"),
        (
            name.lower().endswith(_ARCHIVE_SUFFIXES),
            "an archive inside the archive: nested archives are not opened",
        ),
        (
            info.compress_type not in _METHODS,
            "compressed with a method other than deflate: re-create the ZIP with a common tool",
        ),
        (info.file_size > limits.max_entry_bytes, _too_large(limits)),
        (ratio > limits.max_ratio, f"compresses {ratio}:1, as decompression bombs do: refused"),
    )
    return next((problem for failed, problem in checks if failed), None)


def base_name(path: str) -> str:
    """The file name without any directory (a report shows it; nothing is written anywhere)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1] or path
    return name[:_MAX_NAME_CHARS]


def _too_large(limits: ArchiveLimits) -> str:
    return f"larger than {limits.max_entry_bytes // _MIB} MB uncompressed: refused"
