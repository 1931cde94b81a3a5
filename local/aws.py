"""The local AWS plane: moto's threaded server on loopback, standing in for every AWS service.

``LocalAws.start()`` runs the server on a free port of 127.0.0.1; ``export_environment()`` points
this process at it (endpoint, fake credentials, the FiscalMix settings variables) and must run
before any handler builds a boto3 client or a PynamoDB connection; ``create_resources()`` creates
the stage's tables, buckets and key from the same definitions CDK deploys. Everything lives in
memory, in the process.
"""

from __future__ import annotations

import http.client
import json
import os
from types import TracebackType
from typing import Any, Final

import boto3
from moto.server import ThreadedMotoServer

from fiscal_core.settings import ENV_ENDPOINT_URL, ResourceNames, get_settings, resource_environment
from local.resources import create_buckets, create_key, create_tables

LOOPBACK: Final = "127.0.0.1"
# moto's default account: the one its ARNs and its Cognito issuer URLs use.
LOCAL_ACCOUNT: Final = "123456789012"
LOCAL_REGION: Final = "sa-east-1"
LOCAL_STAGE: Final = "local"
# Lambda tasks run in-process (no Docker); Step Functions really executes state machines.
MOTO_CONFIG: Final = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
# moto accepts any credentials; fixed fake ones keep real keys out of local calls.
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_CLIENT_CREDENTIALS: Final = {name.lower(): value for name, value in FAKE_CREDENTIALS.items()}
# Removed while the plane runs: a developer's profile must never send a local call to real AWS.
PROFILE_VARIABLES: Final = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class LocalAws:
    """A moto server on 127.0.0.1, the stage's resources in it, and the environment that uses it.

    As a context manager it starts the server and exports :meth:`environment` into
    ``os.environ``; on exit it restores the environment and stops the server. Tests that must
    not leak variables into other tests call ``start()`` and apply :meth:`environment` for
    their own duration instead (tests/integration/conftest.py does).
    """

    def __init__(self, *, stage: str = LOCAL_STAGE, region: str = LOCAL_REGION) -> None:
        self.names = ResourceNames(stage=stage, account=LOCAL_ACCOUNT, region=region)
        self._server: ThreadedMotoServer | None = None
        self._saved_environment: dict[str, str | None] = {}

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the server's socket is bound to; the port is chosen at ``start()``."""
        if self._server is None:
            raise RuntimeError("LocalAws is not running: call start() first")
        return self._server.get_host_and_port()

    @property
    def endpoint_url(self) -> str:
        """The URL every AWS client uses; ``localhost`` as moto's docs advise, served on loopback."""
        return f"http://localhost:{self.address[1]}"

    def environment(self) -> dict[str, str]:
        """The variables that point boto3, PynamoDB, moto and FiscalMix's settings at this plane."""
        return {
            # moto's Step Functions engine calls other services at localhost:$MOTO_PORT.
            "MOTO_PORT": str(self.address[1]),
            ENV_ENDPOINT_URL: self.endpoint_url,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.names.region,
            "AWS_REGION": self.names.region,
            **resource_environment(
                stage=self.names.stage,
                table_prefix=self.names.table_prefix,
                documents_bucket=self.names.documents_bucket,
                exports_bucket=self.names.exports_bucket,
                kms_key_id=self.names.kms_alias,
            ),
        }

    def start(self) -> None:
        """Start the server on a free loopback port and configure it; changes no environment."""
        if self._server is not None:
            raise RuntimeError("LocalAws is already running")
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        self._server = server
        self._moto_api("/moto-api/config", MOTO_CONFIG)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this plane, whatever the process environment says."""
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, region_name=self.names.region, **_CLIENT_CREDENTIALS
        )

    def create_resources(self) -> None:
        """Create the stage's KMS key and alias, buckets and tables."""
        key_arn = create_key(self.client("kms"), self.names.kms_alias)
        create_buckets(self.client("s3"), self.names, key_arn)
        create_tables(self.client("dynamodb"), self.names.table_prefix)

    def reset(self) -> None:
        """Drop every resource and item in moto, then create the stage's resources afresh."""
        self._moto_api("/moto-api/reset", None)
        self.create_resources()

    def export_environment(self) -> None:
        """Put :meth:`environment` into ``os.environ``, dropping any AWS profile, until ``stop()``.

        Call it before handlers build boto3 clients or PynamoDB connections: both read the
        endpoint and credentials when they connect.
        """
        environment = self.environment()
        for name in (*environment, *PROFILE_VARIABLES):
            self._saved_environment.setdefault(name, os.environ.get(name))
        for name in PROFILE_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(environment)
        # Settings are cached per process; the next get_settings() must see this plane.
        get_settings.cache_clear()

    def stop(self) -> None:
        """Restore what ``export_environment()`` changed and stop the server; its socket closes.

        moto keeps its state in module globals shared by every server and ``mock_aws`` of the
        process, so stopping leaves it for them; ``reset()`` is the way to a clean slate.
        """
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}
        get_settings.cache_clear()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAws:
        self.start()
        self.export_environment()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _moto_api(self, path: str, body: object) -> None:
        connection = http.client.HTTPConnection(LOOPBACK, self.address[1], timeout=10)
        try:
            connection.request(
                "POST",
                path,
                body=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status >= 300:
                raise RuntimeError(f"moto answered {path} with HTTP {response.status}")
        finally:
            connection.close()
