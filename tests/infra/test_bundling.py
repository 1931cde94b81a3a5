"""The Docker-free bundler: its pip command, what it copies, and when its assets change.

No test here runs pip or synthesizes: ``subprocess.run`` is replaced where a bundle is built.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import DockerImage

from infra.bundling import (
    LAYER_PACKAGE,
    PLATFORM,
    PYPROJECT,
    LocalBundler,
    runtime_requirements,
)


def test_requirements_are_the_projects_runtime_dependencies() -> None:
    with PYPROJECT.open("rb") as file:
        project = tomllib.load(file)["project"]

    requirements = runtime_requirements()

    assert requirements == tuple(project["dependencies"])
    assert not set(requirements) & {r for extra in project["optional-dependencies"].values() for r in extra}


def test_requirements_come_from_any_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["a>=1", "b[x]<2"]\n[project.optional-dependencies]\ndev = ["c"]\n'
    )

    assert runtime_requirements(pyproject) == ("a>=1", "b[x]<2")


def test_pip_command_fetches_only_wheels_for_the_lambda_platform() -> None:
    bundler = LocalBundler(
        source=LAYER_PACKAGE, destination="python/fiscal_core", requirements=("x==1",), python="/py"
    )

    command = bundler.pip_command(Path("/asset/python"))

    assert command[:4] == ["/py", "-m", "pip", "install"]
    assert command[command.index("--target") + 1] == "/asset/python"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("--python-version") + 1] == PLATFORM.python_version == "3.12"
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert "manylinux2014_aarch64" in platforms
    assert all(p.endswith("_aarch64") for p in platforms), "wheels must match the arm64 functions"
    assert command[-1] == "x==1"


def test_platform_is_consistent() -> None:
    assert PLATFORM.runtime.name == f"python{PLATFORM.python_version}"
    assert PLATFORM.architecture.name == "arm64"


def test_layer_bundle_copies_the_package_and_installs_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src" / "fiscal_core"
    (source / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(command)
        assert kwargs == {"check": True}
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr("infra.bundling.subprocess.run", run)
    output = tmp_path / "asset"
    bundler = LocalBundler(
        source=source, destination="python/fiscal_core", requirements=("x==1",), site_packages="python",
        compiler="/opt/python3.12",
    )  # fmt: skip

    assert bundler.try_bundle(str(output), image=DockerImage.from_registry("unused")) is True

    assert (output / "python" / "fiscal_core" / "__init__.py").is_file()
    assert not (output / "python" / "fiscal_core" / "__pycache__").exists()  # the build machine's pycs
    # The wheels, then the runtime's Python compiles everything, independent of file times.
    assert calls == [
        bundler.pip_command(output / "python"),
        ["/opt/python3.12", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         str(output)],
    ]  # fmt: skip


def test_function_bundle_copies_and_compiles_with_the_runtimes_python(tmp_path: Path) -> None:
    source = tmp_path / "functions" / "api"
    source.mkdir(parents=True)
    (source / "handler.py").write_text("VALUE = 1\n")
    output = tmp_path / "asset"

    # This interpreter stands in for the runtime's: its tag names the bytecode it writes.
    LocalBundler(source=source, destination="functions/api", compiler=sys.executable).try_bundle(
        str(output), image=DockerImage.from_registry("unused")
    )

    assert (output / "functions" / "api" / "handler.py").is_file()
    (pyc,) = (output / "functions" / "api" / "__pycache__").iterdir()
    assert pyc.name == f"handler.{sys.implementation.cache_tag}.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01, "a hash-based pyc that is never checked against the source's time"


def test_without_the_runtimes_python_the_asset_ships_source_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "functions" / "api"
    source.mkdir(parents=True)
    (source / "handler.py").write_text("")
    monkeypatch.setattr("infra.bundling.shutil.which", lambda name: None)
    monkeypatch.setattr("infra.bundling.subprocess.run", pytest.fail)
    bundler = LocalBundler(source=source, destination="functions/api")

    with pytest.warns(UserWarning, match=r"python3\.12 is not on PATH.*cold start compiles"):
        bundler.try_bundle(str(tmp_path / "asset"), image=DockerImage.from_registry("unused"))
    assert (tmp_path / "asset" / "functions" / "api" / "handler.py").is_file()


def test_fingerprint_follows_sources_and_requirements_but_not_bytecode(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = 1")

    def fingerprint(*requirements: str) -> str:
        return LocalBundler(source=tmp_path, destination="d", requirements=requirements).fingerprint()

    before = fingerprint("x==1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert fingerprint("x==1") == before
    assert fingerprint("x==2") != before
    (tmp_path / "m.py").write_text("a = 2")
    assert fingerprint("x==1") != before
