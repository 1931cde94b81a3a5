"""`fiscalmix inspect`: one JSON line per file, a clear error for anything unreadable, no traceback."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fiscal_core import cli
from fiscal_core.xmlsafe import DEFAULT_MAX_BYTES
from tests.unit.documents.expected import INSPECT_KEYS
from tests.unit.documents.hostile import billion_laughs, quadratic_blowup
from tests.unit.documents.samples import sample

PROC_NFE = sample("nfe/samples/v4_0/procNFe.xml")
SECRET = "TOP-SECRET-b41d2e"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    status = cli.main(["inspect", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def error_of(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    status, [record], err = run(capsys, str(path))
    assert status == 1 and err == ""
    assert tuple(record) == INSPECT_KEYS
    assert all(record[key] is None for key in INSPECT_KEYS[2:])
    return str(record["error"])


Writer = Callable[[str, bytes], Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def write(name: str, content: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


def test_a_readable_document_prints_its_metadata_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    status, [record], err = run(capsys, str(PROC_NFE))

    assert (status, err) == (0, "")
    assert record["error"] is None
    assert record["issued_at"] == "2017-07-12T09:45:50-03:00"
    assert record["total_value"] == "84.90"
    assert (record["model"], record["series"], record["number"]) == (55, 1, 46320)
    assert record["event_type"] is record["event_seq"] is record["author_doc"] is None


def test_missing_files_and_directories_are_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert error_of(capsys, tmp_path / "missing.xml") == "cannot read the file: No such file or directory"
    assert error_of(capsys, tmp_path) == "cannot read the file: Is a directory"


def test_an_unreadable_file_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path, mode: str = "r") -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)  # root, who runs CI here, could read a chmod 0 file

    assert error_of(capsys, PROC_NFE) == "cannot read the file: Permission denied"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty document"),
        (bytes(range(256)) * 8, "not XML"),
        (PROC_NFE.read_bytes()[:3000], "malformed or truncated XML"),
        (b"<nota><valor>1</valor></nota>", "unsupported document: <nota>"),
        (b"<a>" + b"x" * DEFAULT_MAX_BYTES + b"</a>", f"file too large: more than {DEFAULT_MAX_BYTES} bytes"),
        (billion_laughs(), "entity-expansion bomb"),
        (quadratic_blowup(), "refused"),
    ],
    ids=["empty", "binary", "truncated", "unknown", "too-large", "billion-laughs", "quadratic-blowup"],
)
@pytest.mark.timeout(60)  # a hang guard for the hostile files, not a speed bound (bench/ has those)
def test_unreadable_content_is_an_error(
    capsys: pytest.CaptureFixture[str], write: Writer, content: bytes, problem: str
) -> None:
    assert problem in error_of(capsys, write("file.xml", content))


def test_an_external_entity_never_leaks_the_file(capsys: pytest.CaptureFixture[str], write: Writer) -> None:
    secret = write("secret.txt", SECRET.encode())
    hostile = write(
        "hostile.xml", f'<!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]><nfeProc>&s;</nfeProc>'.encode()
    )

    status = cli.main(["inspect", str(hostile)])
    out, err = capsys.readouterr()

    assert status == 1
    assert "DOCTYPE" in json.loads(out)["error"]
    assert SECRET not in out + err


def test_every_file_is_reported_even_after_failures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.xml"

    status, records, _ = run(capsys, str(missing), str(PROC_NFE), str(tmp_path))

    assert status == 1
    assert [record["file"] for record in records] == [str(missing), str(PROC_NFE), str(tmp_path)]
    assert [record["error"] is None for record in records] == [False, True, False]


def test_an_internal_error_is_reported_as_such_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "extract_metadata", broken)

    status, [record], err = run(capsys, str(PROC_NFE))

    assert status == 1 and err == ""
    assert record["error"] == "internal error (RuntimeError: boom); please report it"


def test_usage_errors_exit_with_status_two(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["inspect"], ["nonsense"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    assert "usage: fiscalmix" in capsys.readouterr().err


def test_subcommands_plug_in_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def add_hello(subparsers: Any) -> None:
        parser = subparsers.add_parser("hello")
        parser.set_defaults(handler=lambda args: 7)

    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, add_hello))

    assert cli.main(["hello"]) == 7
    assert isinstance(cli.build_parser().parse_args(["inspect", "x.xml"]), argparse.Namespace)


def test_the_installed_console_script_works(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "fiscalmix"
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(b'<!DOCTYPE x [<!ENTITY s SYSTEM "file:///etc/passwd">]><x>&s;</x>')

    done = subprocess.run(
        [str(script), "inspect", str(PROC_NFE), str(hostile), str(tmp_path / "missing.xml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr == ""
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [record["error"] is None for record in records] == [True, False, False]
    assert records[0]["access_key"] == "41170706117473000150550010000463202612756525"
    assert "root:" not in done.stdout
