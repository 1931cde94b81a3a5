"""``fiscalmix local`` (``make run``): start the whole system, print where to look, stop on signal.

Besides the planes, it seeds the demo: a company with its A1 certificate, a stream of documents
waiting for it at the simulated SEFAZ, and a first sync of it, started at once, so a newcomer
sees documents arrive.
"""

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
    from local.demo import DemoTenant
    from local.system import LocalSystem

# The documents waiting for the demo company at the simulated SEFAZ (NF-e and CT-e stories,
# and NFS-e at the ADN): a page or two each, seeded in a couple of seconds and synced in a few.
DEMO_DOCUMENTS = 60
DEMO_NFSE_DOCUMENTS = 6


@dataclass(frozen=True)
class DemoLogin:
    """A user of the local user pool, with a fresh access token for trying the API by hand."""

    email: str
    password: str
    access_token: str
    sub: str  # the user's id in the pool, which links it to the demo account's owner


def create_demo_login(system: LocalSystem) -> DemoLogin:
    """Create the demo user in the stack's user pool and sign it in."""
    from local.demo import DEMO_EMAIL

    pool_id = system.stack.outputs["UserPoolId"]
    client_id = system.stack.outputs["UserPoolClientId"]
    # A new random password on every start: nothing to leak, nothing that works elsewhere.
    password = f"Demo-{secrets.token_urlsafe(9)}1a!"
    cognito = system.aws.client("cognito-idp")
    created = cognito.admin_create_user(
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
    sub = next(a["Value"] for a in created["User"]["Attributes"] if a["Name"] == "sub")
    return DemoLogin(DEMO_EMAIL, password, tokens["AccessToken"], sub)


def start_demo_sync(system: LocalSystem, login: DemoLogin) -> tuple[DemoTenant, int]:
    """Seed the demo company and its documents, and start its first sync; (tenant, documents).

    The sync runs as the demo user's "sync now" would: one execution of the real workflow per
    document family, against the simulator. It goes on in the background after this returns.
    """
    from fiscal_core.crypto.envelope import EnvelopeCipher
    from fiscal_core.settings import get_settings
    from fiscal_core.sync.contract import SyncState, Trigger
    from fiscal_core.sync.policy import SYNCED_FAMILIES
    from local.demo import seed_demo_documents, seed_demo_tenant

    sefaz = system.sefaz
    if sefaz is None:
        raise RuntimeError("the demo needs the SEFAZ simulator, which did not start")
    cipher = EnvelopeCipher(system.aws.client("kms"), get_settings().kms_key_id)
    tenant = seed_demo_tenant(cipher, clock=sefaz.clock.now, cognito_sub=login.sub)
    seeded = seed_demo_documents(sefaz, tenant, documents=DEMO_DOCUMENTS, nfse_documents=DEMO_NFSE_DOCUMENTS)
    sfn, arn = system.aws.client("stepfunctions"), system.stack.outputs["SyncStateMachineArn"]
    for family in sorted(SYNCED_FAMILIES):
        state = SyncState(
            account_id=tenant.account_id, company_id=tenant.company_id, family=family,
            trigger=Trigger.USER, user_id=tenant.user_id,
        )  # fmt: skip
        name = f"demo-{family.value.lower()}-{secrets.token_hex(4)}"
        sfn.start_execution(stateMachineArn=arn, name=name, input=state.model_dump_json())
    return tenant, sum(seeded.queued.values())


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


def _demo_banner(system: LocalSystem, demo: tuple[DemoTenant, int]) -> str:
    api = next(iter(system.http_gateways.values())).url
    tenant, documents = demo
    listing = f"{api}/documents?company_id={tenant.company_id}&limit=5"
    lines = [
        "",
        f"  Demo company {tenant.legal_name} (CNPJ {tenant.cnpj}): {documents} documents wait for it",
        "  at the simulated SEFAZ, and its first sync has started. Watch them arrive (each page the",
        '  sync stores is logged below as "sync task done"):',
        f'    curl -H "Authorization: Bearer $TOKEN" "{listing}"',
        f'    curl -H "Authorization: Bearer $TOKEN" {api}/companies    # with each sync\'s state',
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
        # The API answers from here on; the demo's documents are seeded after the banner.
        print(_banner(system, login, time.monotonic() - started), flush=True)
        print(_demo_banner(system, start_demo_sync(system, login)), flush=True)
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
