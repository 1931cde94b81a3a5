"""``fiscalmix local`` (``make run``): start the whole system, print where to look, stop on signal."""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.system import LocalSystem

DEMO_EMAIL = "demo@fiscalmix.local"


@dataclass(frozen=True)
class DemoLogin:
    """A user of the local user pool, with a fresh access token for trying the API by hand."""

    email: str
    password: str
    access_token: str


def create_demo_login(system: LocalSystem) -> DemoLogin:
    """Create the demo user in the stack's user pool and sign it in."""
    pool_id = system.stack.outputs["UserPoolId"]
    client_id = system.stack.outputs["UserPoolClientId"]
    # A new random password on every start: nothing to leak, nothing that works elsewhere.
    password = f"Demo-{secrets.token_urlsafe(9)}1a!"
    cognito = system.aws.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=DEMO_EMAIL,
        UserAttributes=[
            {"Name": "email", "Value": DEMO_EMAIL},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=DEMO_EMAIL, Password=password, Permanent=True
    )
    tokens = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": DEMO_EMAIL, "PASSWORD": password},
    )["AuthenticationResult"]
    return DemoLogin(DEMO_EMAIL, password, tokens["AccessToken"])


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    # One readable line per request comes from the gateways; moto's and boto's own are noise.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "aws_lambda_powertools", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _banner(system: LocalSystem, login: DemoLogin, started_in: float) -> str:
    api = next(iter(system.http_gateways.values())).url
    lines = [
        "",
        f"FiscalMix is running locally (started in {started_in:.1f} s). Everything listens on 127.0.0.1.",
        "",
        *(f"  {name:<28} {url}" for name, url in system.urls().items()),
        "",
        f"  Demo login                   {login.email} / {login.password}",
        "",
        "  Try it:",
        f"    curl {api}/health",
        f'    curl -H "Authorization: Bearer $TOKEN" {api}/me',
        "  with TOKEN, the demo user's access token (valid one hour):",
        f"    export TOKEN={login.access_token}",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Start, print the banner, and wait for SIGINT or SIGTERM; then stop everything."""
    from local.system import LocalOptions, LocalSystem  # moto and CDK load only when running

    _configure_logging(args.verbose)
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    options = LocalOptions(http_port=args.port, ws_port=args.ws_port, time_scale=args.time_scale)
    system = LocalSystem(options)
    try:
        system.start()
        login = create_demo_login(system)
        print(_banner(system, login, time.monotonic() - started), flush=True)
        stop.wait()
        print("Stopping FiscalMix...", flush=True)
    finally:
        system.stop()
    print("Stopped.", flush=True)
    return 0


def add_local(subparsers: Any) -> None:
    """Register ``local``: the whole system on this machine (what ``make run`` runs)."""
    parser = subparsers.add_parser(
        "local",
        help="run the whole system locally: moto, gateways, simulator and demo data",
        description="Start FiscalMix's embedded default on 127.0.0.1 and stop it on Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=8000, help="HTTP API port (0: any free port)")
    parser.add_argument("--ws-port", type=int, default=8001, help="WebSocket API port (0: any free port)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="how much faster than real time the schedules run (60: an hour per minute)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.set_defaults(handler=run)
