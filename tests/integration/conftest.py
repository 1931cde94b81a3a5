"""The local AWS plane for integration tests: one moto server per session, resources created.

``local_aws`` is the running plane; ``local_aws_env`` also points this test's environment at it
(endpoint, fake credentials, FiscalMix settings) and puts it back afterwards, so no variable
leaks into tests that mock AWS in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from fiscal_core.settings import get_settings
from local.aws import PROFILE_VARIABLES, LocalAws


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """A started LocalAws with the local stage's tables, buckets and key."""
    plane = LocalAws()
    plane.start()
    try:
        plane.create_resources()
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def local_aws_env(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """The plane, with ``os.environ`` and ``get_settings()`` pointing at it for this test."""
    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in local_aws.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        local_aws.client("s3").head_bucket(Bucket=local_aws.names.documents_bucket)
    except ClientError:
        # moto's state is per process, and an in-process mock_aws elsewhere resets it.
        local_aws.reset()
    yield local_aws
    get_settings.cache_clear()
