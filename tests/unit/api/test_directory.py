"""The Cognito adapter against moto's user pool: profiles, the MFA cache, invitations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fiscal_core.api.directory import CognitoDirectory
from fiscal_core.api.problems import Conflict, DependencyUnavailable

REGION = "sa-east-1"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("cognito-idp", region_name=REGION)
        pool_id = client.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
        client.set_user_pool_mfa_config(
            UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="OPTIONAL"
        )
        yield client, pool_id


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _enable_totp(client: Any, pool_id: str, email: str) -> None:
    client.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password="Aa1!aaaaaaaaaa", Permanent=True
    )
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    token = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Aa1!aaaaaaaaaa"},
    )["AuthenticationResult"]["AccessToken"]
    client.associate_software_token(AccessToken=token)
    client.verify_software_token(AccessToken=token, UserCode="123456")
    client.set_user_mfa_preference(
        AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )


def test_invite_creates_the_login_and_a_taken_email_is_a_conflict(pool) -> None:
    client, pool_id = pool
    directory = CognitoDirectory(client, pool_id)
    invited = directory.invite("ana@example.com", "Ana")
    assert (invited.email, invited.name, invited.totp_enabled) == ("ana@example.com", "Ana", False)
    assert invited.sub
    with pytest.raises(Conflict):
        directory.invite("ana@example.com", None)


def test_profile_reads_mfa_and_caches_only_an_enabled_state(pool) -> None:
    client, pool_id = pool
    clock = _Clock()
    directory = CognitoDirectory(client, pool_id, clock=clock, cache_ttl=timedelta(seconds=60))
    username = directory.invite("bia@example.com", None).username
    assert directory.profile(username).totp_enabled is False
    _enable_totp(client, pool_id, "bia@example.com")
    assert directory.profile(username).totp_enabled is True  # the disabled state was not cached
    client.admin_set_user_mfa_preference(
        UserPoolId=pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
    )
    assert directory.profile(username).totp_enabled is True  # cached for a minute
    assert directory.profile(username, fresh=True).totp_enabled is False
    assert directory.profile(username).totp_enabled is False  # the fresh read dropped the cache


def test_the_cache_expires(pool) -> None:
    client, pool_id = pool
    clock = _Clock()
    directory = CognitoDirectory(client, pool_id, clock=clock, cache_ttl=timedelta(seconds=60))
    username = directory.invite("cy@example.com", None).username
    _enable_totp(client, pool_id, "cy@example.com")
    assert directory.profile(username).totp_enabled is True
    client.admin_set_user_mfa_preference(
        UserPoolId=pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
    )
    clock.now += timedelta(seconds=61)
    assert directory.profile(username).totp_enabled is False


def test_sdk_failures_become_dependency_unavailable(pool) -> None:
    client, _ = pool
    with pytest.raises(DependencyUnavailable):
        CognitoDirectory(client, "sa-east-1_nosuchpool").profile("someone")
