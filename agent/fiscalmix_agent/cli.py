"""``fiscalmix-agent``: pair with the cloud, list the token's certificates, and run.

Exit codes: 0 done, 1 a failure explained on stderr, 2 bad usage, 3 the bridge refused the
agent's credential (pair again), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

import segno

from fiscalmix_agent import __version__
from fiscalmix_agent.client import AgentClient, bridge_url
from fiscalmix_agent.config import AgentConfig, default_path, write_private
from fiscalmix_agent.errors import AgentError, AuthenticationRefused
from fiscalmix_agent.pairing import PairingResult, new_credential, new_pairing_code, pair
from fiscalmix_agent.service import RequestService, token_transports
from fiscalmix_agent.token import TokenDescription, TokenSession
from fiscalmix_agent.trust import DEFAULT_ALLOWED_HOSTS, HostPolicy, ServerVerifier, load_bundle, system_roots

logger = logging.getLogger("fiscalmix_agent")

EXIT_FAILED: Final = 1
EXIT_REFUSED: Final = 3
EXIT_INTERRUPTED: Final = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fiscalmix-agent",
        description="FiscalMix agent: lends an A3 token (PKCS#11) to FiscalMix for SEFAZ.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, help=f"configuration file (default: {default_path()})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    commands = parser.add_subparsers(dest="command", required=True)

    token_options = argparse.ArgumentParser(add_help=False)
    token_options.add_argument(
        "--module", help="PKCS#11 module (token driver); found automatically if left out"
    )
    token_options.add_argument("--token-label", help="use the token with this label")
    token_options.add_argument("--token-serial", help="use the token with this serial number")

    pairing = commands.add_parser("pair", parents=[token_options], help="pair this agent with FiscalMix")
    pairing.add_argument(
        "--server", required=True, help="the bridge URL, e.g. wss://agent.fiscalmix.com.br/prod"
    )
    pairing.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help=f"also present the certificate to this host (default only {', '.join(DEFAULT_ALLOWED_HOSTS)})",
    )
    pairing.add_argument(
        "--sefaz-ca",
        help="PEM bundle that verifies SEFAZ's servers (default: from pairing, else the system's)",
    )
    commands.add_parser("certificates", parents=[token_options], help="list the certificates on the token")
    commands.add_parser("run", help="connect to FiscalMix and serve its requests")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fiscalmix-agent`` console script."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not arguments.verbose:
        logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        if arguments.command == "pair":
            return _pair(arguments, sys.stdout)
        if arguments.command == "certificates":
            return _certificates(arguments, sys.stdout)
        return _run(arguments)
    except AuthenticationRefused as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_REFUSED
    except AgentError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _token_session(arguments: argparse.Namespace, config: AgentConfig | None = None) -> TokenSession:
    return TokenSession(
        getattr(arguments, "module", None) or (config.module if config else None),
        label=getattr(arguments, "token_label", None) or (config.token_label if config else None),
        serial=getattr(arguments, "token_serial", None) or (config.token_serial if config else None),
    )


def _certificates(arguments: argparse.Namespace, out: TextIO) -> int:
    try:
        config: AgentConfig | None = AgentConfig.load(arguments.config)
    except AgentError:
        config = None  # listing works before pairing too
    session = _token_session(arguments, config)
    token = session.find()
    print(f"Token {token.label} ({token.manufacturer} {token.model}, serial {token.serial})", file=out)
    print(f"Driver: {token.module.path}", file=out)
    listed = session.certificates(with_key_only=False)
    if not listed:
        print("No certificate on this token.", file=out)
    for entry in listed:
        info = entry.info
        print(f"\n  {info.holder_name or info.subject}", file=out)
        print(f"    CNPJ:        {info.cnpj or '(none)'}", file=out)
        print(f"    Valid:       {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}", file=out)
        print(f"    SHA-256:     {info.fingerprint_sha256}", file=out)
        print(f"    Subject:     {info.subject}", file=out)
    return 0


def show_pairing_code(code: str, out: TextIO) -> None:
    """The code in large type and as a QR code the app's camera can read."""
    print("\nEnter this code in the FiscalMix app, on the company's A3 certificate page:\n", file=out)
    print(f"    {code[:4]} {code[4:]}\n", file=out)
    # A full QR code: segno.make would pick a Micro QR for 8 characters, which phones rarely read.
    segno.make_qr(code, error="m").terminal(out=out, compact=True)
    print("\nThe code is valid for 10 minutes. Waiting...", file=out, flush=True)


def _pair(arguments: argparse.Namespace, out: TextIO) -> int:
    bridge_url(arguments.server)  # fail on a malformed URL before showing a code
    code, credential = new_pairing_code(), new_credential()
    show_pairing_code(code, out)
    config_path = arguments.config or default_path()

    def save(result: PairingResult) -> None:
        config = AgentConfig(
            server=arguments.server,
            agent_id=result.paired.agent_id,
            credential=result.credential,
            module=arguments.module,
            token_label=arguments.token_label,
            token_serial=arguments.token_serial,
            sefaz_ca_file=arguments.sefaz_ca,
            allowed_hosts=[*DEFAULT_ALLOWED_HOSTS, *arguments.allow_host],
            company=dict(result.paired.company),
        )
        if config.sefaz_ca_file is None and result.paired.sefaz_ca_pem:
            ca_file = config.ca_file_beside(config_path)
            ca_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(ca_file, result.paired.sefaz_ca_pem.encode())
            config.sefaz_ca_file = str(ca_file)
        config.save(config_path)

    result = asyncio.run(pair(arguments.server, code, credential, save))
    company = result.paired.company
    name = company.get("name") or company.get("cnpj") or "the company"
    print(f"\nPaired with {name}. Configuration saved in {config_path}.", file=out)
    print("Start the agent with: fiscalmix-agent run", file=out)
    return 0


def _ask_pin(token: TokenDescription) -> str:
    return getpass.getpass(f"PIN of the token {token.label} ({token.model}): ")


def _verifier(config: AgentConfig) -> ServerVerifier:
    if config.sefaz_ca_file:
        path = Path(config.sefaz_ca_file)
        try:
            return ServerVerifier(load_bundle(path.read_bytes(), str(path)))
        except OSError as exc:
            raise AgentError(f"The CA bundle {path} cannot be read: {exc}") from exc
    return ServerVerifier(system_roots())


def _run(arguments: argparse.Namespace) -> int:
    config = AgentConfig.load(arguments.config)
    session = _token_session(arguments, config)
    session.open(_ask_pin)
    transports = token_transports(_verifier(config), HostPolicy(tuple(config.allowed_hosts)))
    service = RequestService(session, transports)
    hello = service.hello()
    for certificate in hello["certificates"]:
        logger.info("certificate %s (CNPJ %s) ready", certificate["subject"], certificate["cnpj"])
    client = AgentClient(bridge_url(config.server), config.credential, service)
    try:
        asyncio.run(_serve(client))
    finally:
        session.close()
    return 0


async def _serve(client: AgentClient) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        # Windows' event loops have no signal handlers; Ctrl+C still raises KeyboardInterrupt there.
        if hasattr(signal, name) and sys.platform != "win32":
            loop.add_signal_handler(getattr(signal, name), stop.set)
    await client.run(stop)
