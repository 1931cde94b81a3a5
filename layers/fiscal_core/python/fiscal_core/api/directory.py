"""The user directory: Cognito's view of a person (email, name, MFA), behind one adapter.

The API reads a user's profile on their first request (to open their account) and their MFA
state on every request of an account that requires MFA; an enabled MFA state is cached for a
short while per warm container, so enforcing MFA does not cost an AdminGetUser on every call.
Inviting creates the Cognito user, which emails the temporary password itself: no secret
passes through FiscalMix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.api.problems import Conflict, DependencyUnavailable
from fiscal_core.errors import InvalidValue
from fiscal_core.storage.attributes import utc_now

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

TOTP: Final = "SOFTWARE_TOKEN_MFA"
PROFILE_CACHE_TTL: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """What the directory knows about a person."""

    username: str
    sub: str
    email: str
    name: str | None
    totp_enabled: bool


class UserDirectory(Protocol):
    """Where users sign in; Cognito in the cloud and locally, a fake in unit tests."""

    def profile(self, username: str, *, fresh: bool = False) -> DirectoryUser:
        """A user's profile and MFA state, cached for a minute unless ``fresh``."""
        ...

    def invite(self, email: str, name: str | None) -> DirectoryUser:
        """Create a user who receives an email with a temporary password; Conflict if taken."""
        ...


class CognitoDirectory:
    """:class:`UserDirectory` over a Cognito user pool (AdminGetUser, AdminCreateUser)."""

    def __init__(
        self,
        client: CognitoIdentityProviderClient,
        user_pool_id: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        cache_ttl: timedelta = PROFILE_CACHE_TTL,
    ) -> None:
        self._client = client
        self._pool = user_pool_id
        self._clock = clock
        self._ttl = cache_ttl
        self._cache: dict[str, tuple[datetime, DirectoryUser]] = {}
        self._lock = threading.Lock()

    def profile(self, username: str, *, fresh: bool = False) -> DirectoryUser:
        """AdminGetUser, cached for ``cache_ttl`` unless ``fresh``.

        Enforcement reads the cache; what the user is shown (``/me``) and the decision to
        require MFA read the directory itself.
        """
        now = self._clock()
        with self._lock:
            cached = self._cache.get(username)
        if not fresh and cached is not None and cached[0] > now:
            return cached[1]
        with _cognito_call("read a user"):
            response = self._client.admin_get_user(UserPoolId=self._pool, Username=username)
        totp = (
            TOTP in (response.get("UserMFASettingList") or []) or response.get("PreferredMfaSetting") == TOTP
        )
        user = _user(response["Username"], response.get("UserAttributes", []), totp_enabled=totp)
        # Only users with MFA are cached: one who just enabled it is let in on their next
        # request, while one who disables it keeps access for at most ``cache_ttl``.
        with self._lock:
            if totp:
                self._cache[username] = (now + self._ttl, user)
            else:
                self._cache.pop(username, None)
        return user

    def invite(self, email: str, name: str | None) -> DirectoryUser:
        """AdminCreateUser with a verified email; Cognito sends the invitation itself."""
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        if name:
            attributes.append({"Name": "name", "Value": name})
        with _cognito_call("invite a user"):
            try:
                response = self._client.admin_create_user(
                    UserPoolId=self._pool,
                    Username=email,
                    UserAttributes=attributes,  # type: ignore[arg-type]
                    DesiredDeliveryMediums=["EMAIL"],
                )
            except self._client.exceptions.UsernameExistsException as exc:
                raise Conflict(
                    f"{email} already has a FiscalMix login; a person belongs to one account. "
                    "Ask them to sign in, or invite another address."
                ) from exc
            except self._client.exceptions.InvalidParameterException as exc:
                raise InvalidValue("email", f"the user pool does not accept {email!r} as an email") from exc
        created = response["User"]
        return _user(created["Username"], created.get("Attributes", []), totp_enabled=False)


def _user(username: str, attributes: list[Any], *, totp_enabled: bool) -> DirectoryUser:
    values = {a["Name"]: a.get("Value", "") for a in attributes}
    return DirectoryUser(
        username=username,
        sub=values.get("sub", username),
        email=values.get("email", ""),
        name=values.get("name") or None,
        totp_enabled=totp_enabled,
    )


@contextmanager
def _cognito_call(action: str) -> Iterator[None]:
    """Turn SDK failures into DependencyUnavailable; domain errors raised inside pass through."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailable(f"could not {action} in the user pool: {exc}") from exc
