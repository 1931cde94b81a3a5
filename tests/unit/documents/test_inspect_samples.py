"""`fiscalmix inspect` on every sample XML nfelib ships, against values read independently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fiscal_core.cli import main
from tests.unit.documents.expected import INSPECT_KEYS, expected_inspection
from tests.unit.documents.samples import NFELIB, nfelib_samples

SAMPLES = nfelib_samples()


def inspect(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[dict[str, object]]]:
    status = main(["inspect", *map(str, paths)])
    out, err = capsys.readouterr()
    assert err == ""
    return status, [json.loads(line) for line in out.splitlines()]


def test_the_wheel_still_ships_the_samples_these_tests_rely_on() -> None:
    roots = {path.parent.parent.parent.name for path in SAMPLES}
    assert {"nfe", "cte", "mdfe", "nfse", "nfe_evento_cce"} <= roots
    assert len(SAMPLES) >= 40


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: str(path.relative_to(NFELIB)))
def test_inspect_reports_what_the_sample_says(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, [record] = inspect(capsys, path)

    assert tuple(record) == INSPECT_KEYS
    assert record["file"] == str(path)
    expected = expected_inspection(path.read_bytes())
    if isinstance(expected, str):
        assert status == 1
        assert expected in str(record["error"])
        assert all(record[key] is None for key in INSPECT_KEYS[2:])
    else:
        assert status == 0
        assert {key: value for key, value in record.items() if key != "file"} == expected


def test_one_run_reports_every_file_and_fails_if_any_failed(capsys: pytest.CaptureFixture[str]) -> None:
    status, records = inspect(capsys, *SAMPLES)

    assert status == 1
    assert [record["file"] for record in records] == list(map(str, SAMPLES))
    read = [record for record in records if record["error"] is None]
    assert {record["doc_type"] for record in read} == {"NFE", "NFCE", "CTE", "MDFE", "NFSE"}
    assert {record["kind"] for record in read} == {"document", "event"}
