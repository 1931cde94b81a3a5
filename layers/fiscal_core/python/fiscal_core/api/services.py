"""What the API's logic works with: the repositories, the user directory, the cipher, a clock.

One :class:`Services` is built per cold start by :func:`get_services` (settings read once, tables
bound once); the AWS clients are created on first use, so a request that needs no KMS never
pays for a KMS client. Tests hand the resolver their own ``Services`` through
``app.dependency_overrides[get_services]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Final

import boto3
from pydantic import ConfigDict, Field

from fiscal_core.api.directory import CognitoDirectory, UserDirectory
from fiscal_core.container import once_per_container
from fiscal_core.crypto.envelope import EnvelopeCipher
from fiscal_core.model import Model
from fiscal_core.settings import get_settings
from fiscal_core.storage.accounts import AccountRepository
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.certificates import CertificateRepository
from fiscal_core.storage.companies import CompanyRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.tables import bind_tables

ENV_USER_POOL_ID: Final = "FISCALMIX_USER_POOL_ID"


class ApiSettings(Model):
    """What only the API function needs from its environment (the rest is in ``Settings``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_pool_id: str = Field(validation_alias=ENV_USER_POOL_ID, min_length=1)


class Services:
    """The API's adapters; ``directory`` and ``cipher`` are built by their factories on first use."""

    def __init__(
        self,
        *,
        directory: Callable[[], UserDirectory],
        cipher: Callable[[], EnvelopeCipher],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._directory_factory = directory
        self._cipher_factory = cipher
        self.clock = clock
        self.accounts = AccountRepository()
        self.companies = CompanyRepository()
        self.certificates = CertificateRepository()
        self.audit = AuditRepository()
        self.cursors = SyncCursorRepository(clock)

    @cached_property
    def directory(self) -> UserDirectory:
        """The user pool (Cognito AdminGetUser / AdminCreateUser)."""
        return self._directory_factory()

    @cached_property
    def cipher(self) -> EnvelopeCipher:
        """Envelope encryption of certificate material under the stage's KMS key."""
        return self._cipher_factory()


@once_per_container
def get_services() -> Services:
    """The process's services: settings validated and tables bound once per cold start.

    This is the one place the API reads its environment.
    """
    settings = get_settings()
    api = ApiSettings.model_validate(dict(os.environ))
    bind_tables(settings.table_prefix)

    def directory() -> UserDirectory:
        return CognitoDirectory(boto3.client("cognito-idp", region_name=settings.region), api.user_pool_id)

    def cipher() -> EnvelopeCipher:
        return EnvelopeCipher(boto3.client("kms", region_name=settings.region), settings.kms_key_id)

    return Services(directory=directory, cipher=cipher)
