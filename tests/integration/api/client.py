"""Talking to the local HTTP gateway as a client would: real Cognito users, real access tokens."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from local.system import LocalSystem


@dataclass(frozen=True)
class Reply:
    """A response from the gateway, its JSON body decoded when it has one."""

    status: int
    content_type: str
    body: Any


@dataclass(frozen=True)
class Api:
    """The gateway's URL; every call may carry a user's access token."""

    url: str

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Reply:
        target = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json", "user-agent": "fiscalmix-tests"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return _reply(response.status, response.headers.get("content-type", ""), response.read())
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.headers.get("content-type", ""), error.read())


def _reply(status: int, content_type: str, raw: bytes) -> Reply:
    body: Any = raw.decode("utf-8", "replace")
    if raw and "json" in content_type:
        body = json.loads(raw)
    return Reply(status, content_type, body)


@dataclass(frozen=True)
class Login:
    """A user of the stack's pool, signed in."""

    email: str
    username: str
    access_token: str


class Users:
    """Sign-ups, invitation sign-ins and TOTP set-up against the stack's user pool."""

    def __init__(self, system: LocalSystem) -> None:
        self._cognito = system.aws.client("cognito-idp")
        self._pool = system.stack.outputs["UserPoolId"]
        self._client = system.stack.outputs["UserPoolClientId"]
        self._passwords: dict[str, str] = {}

    def sign_up(self, email: str, name: str = "Test User") -> Login:
        """Self sign-up, confirmed (standing in for the emailed code), then signed in."""
        password = self._password(email)
        self._cognito.sign_up(
            ClientId=self._client,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
        )
        self._cognito.admin_confirm_sign_up(UserPoolId=self._pool, Username=email)
        return self.sign_in(email)

    def accept_invitation(self, email: str) -> Login:
        """An invited user sets their own password (as after the emailed one) and signs in."""
        self._cognito.admin_set_user_password(
            UserPoolId=self._pool, Username=email, Password=self._password(email), Permanent=True
        )
        return self.sign_in(email)

    def sign_in(self, email: str) -> Login:
        result = self._cognito.initiate_auth(
            ClientId=self._client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": self._passwords[email]},
        )["AuthenticationResult"]
        user = self._cognito.get_user(AccessToken=result["AccessToken"])
        return Login(email, user["Username"], result["AccessToken"])

    def enable_totp(self, login: Login) -> None:
        """Associate and verify an authenticator app, and prefer it (moto accepts any code)."""
        self._cognito.associate_software_token(AccessToken=login.access_token)
        self._cognito.verify_software_token(AccessToken=login.access_token, UserCode="123456")
        self._cognito.set_user_mfa_preference(
            AccessToken=login.access_token,
            SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
        )

    def _password(self, email: str) -> str:
        return self._passwords.setdefault(email, f"Aa1!{secrets.token_urlsafe(12)}")
