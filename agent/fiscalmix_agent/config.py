"""The agent's configuration file: where the bridge is, the credential pairing gave it, the token.

JSON in the user's configuration folder (``FISCALMIX_AGENT_CONFIG`` names another file), written
with permissions 0600 because it holds the agent's credential: whoever reads it can act as this
agent towards the cloud. The PIN is never written anywhere.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from fiscalmix_agent.errors import ConfigError
from fiscalmix_agent.trust import DEFAULT_ALLOWED_HOSTS

ENV_CONFIG: Final = "FISCALMIX_AGENT_CONFIG"
FILE_NAME: Final = "config.json"
CA_FILE_NAME: Final = "sefaz-ca.pem"


def config_dir(platform: str = sys.platform, environ: dict[str, str] | None = None) -> Path:
    """The per-user configuration folder of the agent on this operating system."""
    env = dict(os.environ) if environ is None else environ
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "FiscalMix" / "Agent"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "FiscalMix Agent"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "fiscalmix-agent"


def default_path() -> Path:
    """The configuration file: ``$FISCALMIX_AGENT_CONFIG``, else ``config.json`` in :func:`config_dir`."""
    configured = os.environ.get(ENV_CONFIG)
    return Path(configured) if configured else config_dir() / FILE_NAME


@dataclass
class AgentConfig:
    """Everything ``run`` needs besides the PIN."""

    server: str
    agent_id: str
    credential: str = field(repr=False)
    module: str | None = None
    token_label: str | None = None
    token_serial: str | None = None
    sefaz_ca_file: str | None = None
    allowed_hosts: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS))
    company: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> AgentConfig:
        """Read the file; ConfigError saying to pair when there is none."""
        target = path or default_path()
        try:
            data: Any = json.loads(target.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"This agent is not paired yet ({target} does not exist). Run `fiscalmix-agent pair "
                "--server URL` and enter the code it shows in the FiscalMix app."
            ) from exc
        except (OSError, ValueError) as exc:
            raise ConfigError(f"The configuration {target} cannot be read: {exc}") from exc
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not {"server", "agent_id", "credential"} <= data.keys():
            raise ConfigError(f"The configuration {target} is incomplete; pair the agent again.")
        return cls(**{key: value for key, value in data.items() if key in known})

    def save(self, path: Path | None = None) -> Path:
        """Write the file atomically, readable by its owner only; return its path."""
        target = path or default_path()
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(target, json.dumps(asdict(self), indent=2).encode())
        return target

    def ca_file_beside(self, path: Path | None = None) -> Path:
        """Where the CA bundle the cloud delivers at pairing is kept: next to the configuration."""
        return (path or default_path()).parent / CA_FILE_NAME


def write_private(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` through a 0600 temporary file, so no reader sees it half-written."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.chmod(temporary, 0o600)  # mkstemp already does on POSIX; explicit for clarity of intent
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
