"""``pip install ./agent`` on a clean virtual environment, without the rest of FiscalMix.

The fast test reads the package's imports: nothing but the standard library and the declared
dependencies. The slow one builds a fresh venv, installs the agent from its folder (dependencies
from PyPI, as on a customer's machine), and lists the SoftHSM token's certificate with it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.softhsm import COMPANY_CNPJ, SOFTHSM_MODULE, SoftToken

AGENT_DIR = Path(__file__).resolve().parents[2] / "agent"
# Distribution name in pyproject → the module it provides.
PROVIDES = {
    "websockets": "websockets",
    "python-pkcs11": "pkcs11",
    "tlslite-ng": "tlslite",
    "cryptography": "cryptography",
    "segno": "segno",
}


def declared_modules() -> set[str]:
    project = tomllib.loads((AGENT_DIR / "pyproject.toml").read_text())["project"]
    names = {
        requirement.split(">")[0].split("<")[0].split("=")[0].strip()
        for requirement in project["dependencies"]
    }
    assert names == PROVIDES.keys()
    return set(PROVIDES.values())


def test_the_agent_imports_only_what_it_declares() -> None:
    allowed = declared_modules() | set(sys.stdlib_module_names) | {"fiscalmix_agent"}
    for source in (AGENT_DIR / "fiscalmix_agent").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{source.name} imports {roots - allowed}"


@pytest.mark.slow
def test_pip_install_in_a_clean_venv(tmp_path: Path, token: SoftToken) -> None:
    # A copy of the folder alone: it needs nothing beside it, and the build leaves no files in the tree.
    source = shutil.copytree(
        AGENT_DIR, tmp_path / "agent", ignore=shutil.ignore_patterns("__pycache__", ".*")
    )
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # not the repository: nothing of FiscalMix on the path
    )
    assert install.returncode == 0, install.stderr
    command = environment / "bin" / "fiscalmix-agent"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("fiscalmix-agent 0.1.0")
    listing = subprocess.run(
        [
            str(command),
            "--config",
            str(tmp_path / "none.json"),
            "certificates",
            "--module",
            SOFTHSM_MODULE,
            "--token-label",
            token.label,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stderr
    assert COMPANY_CNPJ in listing.stdout
    isolated = subprocess.run(
        [str(python), "-c", "import fiscal_core"], capture_output=True, check=False, cwd=tmp_path
    )
    assert isolated.returncode != 0  # the agent ran without FiscalMix's own code
