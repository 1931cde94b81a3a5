"""Finding the token driver on each OS, the configuration file, and reading a certificate's CNPJ."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fiscalmix_agent.certinfo import CertificateInfo
from fiscalmix_agent.config import AgentConfig, config_dir
from fiscalmix_agent.errors import ConfigError, ModuleNotFound
from fiscalmix_agent.modules import discover_modules
from local.fixtures.certificates import Variant, default_ca
from local.fixtures.icp_brasil import SanString


def test_discovery_prefers_real_tokens_over_softhsm() -> None:
    installed = {"/usr/lib/libaetpkss.so.3", "/usr/lib/softhsm/libsofthsm2.so"}
    found = discover_modules("linux", {}, installed.__contains__)
    assert [(m.vendor, m.path) for m in found] == [
        ("SafeSign", "/usr/lib/libaetpkss.so.3"),
        ("SoftHSM", "/usr/lib/softhsm/libsofthsm2.so"),
    ]


def test_windows_paths_follow_the_environment() -> None:
    found = discover_modules("win32", {"SystemRoot": r"D:\WIN"}, lambda path: path.endswith("eTPKCS11.dll"))
    assert found[0].path == r"D:\WIN\System32\eTPKCS11.dll"
    macos = discover_modules("darwin", {}, lambda path: "tokenadmin" in path)
    assert macos[0].vendor == "SafeSign"


def test_no_driver_lists_where_it_looked() -> None:
    with pytest.raises(ModuleNotFound, match="No token driver") as missing:
        discover_modules("linux", {}, lambda path: False)
    assert "/usr/lib/libeTPkcs11.so" in missing.value.message and "--module" in missing.value.message


def test_configuration_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "fiscalmix-agent" / "config.json"
    config = AgentConfig(server="wss://agent.example/prod", agent_id="a1", credential="fmxa_secret")
    config.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert AgentConfig.load(path) == config
    assert "fmxa_secret" not in repr(config)
    with pytest.raises(ConfigError, match="not paired yet"):
        AgentConfig.load(tmp_path / "missing.json")


def test_configuration_folders() -> None:
    assert config_dir("linux", {"HOME": "/home/ana"}) == Path("/home/ana/.config/fiscalmix-agent")
    assert config_dir("darwin", {"HOME": "/Users/ana"}) == Path(
        "/Users/ana/Library/Application Support/FiscalMix Agent"
    )
    assert config_dir("win32", {"APPDATA": r"C:\Users\ana\AppData\Roaming"}).parts[-2:] == (
        "FiscalMix",
        "Agent",
    )


@pytest.mark.parametrize("san_string", list(SanString))
def test_cnpj_from_the_subject_alternative_name(san_string: SanString) -> None:
    issued = default_ca().issue_ecnpj("11222333000181", "EMPRESA A3 LTDA", san_string=san_string)
    info = CertificateInfo.of(issued.certificate)
    assert (info.cnpj, info.holder_name) == ("11222333000181", "EMPRESA A3 LTDA")


def test_cnpj_from_the_common_name_when_there_is_no_san() -> None:
    issued = default_ca().issue_ecnpj("11222333000181", variant=Variant.WITHOUT_SAN)
    assert CertificateInfo.of(issued.certificate).cnpj == "11222333000181"
