"""The ``fiscalmix`` console script.

Each subcommand is a function that adds its parser to the subparsers and sets ``handler``;
add a new one to ``SUBCOMMANDS``. A handler returns the process exit status.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from fiscal_core.documents import extract_metadata
from fiscal_core.xmlsafe import DEFAULT_MAX_BYTES

Subparsers = Any  # argparse's _SubParsersAction, which is private
Handler = Callable[[argparse.Namespace], int]

# The keys of `inspect`'s JSON, in order; `file` and `error` come first.
_METADATA_KEYS: Final = (
    "doc_type",
    "kind",
    "schema",
    "access_key",
    "model",
    "series",
    "number",
    "issued_at",
    "issuer_doc",
    "issuer_name",
    "recipient_doc",
    "recipient_name",
    "total_value",
    "status",
    "protocol",
    "event_type",
    "event_seq",
    "event_at",
    "author_doc",
)


def add_inspect(subparsers: Subparsers) -> None:
    """Register ``inspect FILE...``: one JSON line of metadata (or an error) per file."""
    parser = subparsers.add_parser(
        "inspect",
        help="print the metadata of fiscal XML files, one JSON object per line",
        description="Read each fiscal XML file (NF-e, NFC-e, CT-e, MDF-e, NFS-e, their summaries "
        "and events) and print one JSON object per file. Exits 1 if any file could not be read.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="an XML file")
    parser.set_defaults(handler=_inspect)


def add_local(subparsers: Subparsers) -> None:
    """Register ``local`` when the embedded default is installed (never inside a Lambda layer)."""
    try:
        from local.cli import add_local as add_local_command
    except ImportError:
        return
    add_local_command(subparsers)


SUBCOMMANDS: Final[tuple[Callable[[Subparsers], None], ...]] = (add_inspect, add_local)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fiscalmix``, with every subcommand of SUBCOMMANDS."""
    parser = argparse.ArgumentParser(prog="fiscalmix", description="FiscalMix command-line tools.")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fiscalmix`` with ``argv`` (default: the command line); return the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


def _inspect(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        record = _inspect_file(path)
        failed = failed or record["error"] is not None
        print(json.dumps(record, ensure_ascii=False, default=_json_default), flush=True)
    return 1 if failed else 0


def _inspect_file(path: Path) -> dict[str, object]:
    record: dict[str, object] = {"file": str(path), "error": None} | dict.fromkeys(_METADATA_KEYS)
    try:
        with path.open("rb") as file:
            # One byte over the limit is enough to know the file is too large.
            data = file.read(DEFAULT_MAX_BYTES + 1)
    except OSError as exc:
        record["error"] = f"cannot read the file: {exc.strerror or exc}"
        return record
    if len(data) > DEFAULT_MAX_BYTES:
        record["error"] = f"file too large: more than {DEFAULT_MAX_BYTES} bytes, the limit for an XML"
        return record
    try:
        extraction = extract_metadata(data)
    except Exception as exc:  # a bug must not hide the results of the other files
        record["error"] = f"internal error ({type(exc).__name__}: {exc}); please report it"
        return record
    if extraction.metadata is None:
        record["error"] = extraction.error
    else:
        record |= {key: getattr(extraction.metadata, key) for key in _METADATA_KEYS}
    return record


def _json_default(value: object) -> str:
    """Date-times in ISO 8601 with their offset, amounts as exact decimal strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form in inspect's output")


if __name__ == "__main__":
    raise SystemExit(main())
