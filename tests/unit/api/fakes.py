"""In-memory stand-ins for the API's external edges, and API Gateway events to call it with."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Any

from fiscal_core.api.directory import DirectoryUser
from fiscal_core.api.problems import Conflict


@dataclass
class FakeDirectory:
    """A user pool in a dict: usernames are the subs, as with an email-alias Cognito pool."""

    users: dict[str, DirectoryUser] = field(default_factory=dict)

    def add(self, sub: str, email: str, name: str | None = None, *, totp: bool = False) -> DirectoryUser:
        user = DirectoryUser(username=sub, sub=sub, email=email, name=name, totp_enabled=totp)
        self.users[sub] = user
        return user

    def set_totp(self, sub: str, enabled: bool) -> None:
        self.users[sub] = replace(self.users[sub], totp_enabled=enabled)

    def profile(self, username: str, *, fresh: bool = False) -> DirectoryUser:
        return self.users[username]

    def invite(self, email: str, name: str | None) -> DirectoryUser:
        if any(u.email == email for u in self.users.values()):
            raise Conflict(f"{email} already has a FiscalMix login")
        return self.add(f"sub-{len(self.users) + 1}", email, name)


def http_event(
    method: str,
    path: str,
    *,
    sub: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw_body: bytes | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """A payload 2.0 event as API Gateway sends it after its JWT authorizer let ``sub`` in."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": content_type, "user-agent": "pytest-agent"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "pytest-agent",
            },
            "requestId": "req-1",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if sub is not None:
        claims = {"sub": sub, "username": sub, "token_use": "access"}
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": []}}
    if raw_body is not None:
        event["body"] = base64.b64encode(raw_body).decode()
        event["isBase64Encoded"] = True
    elif body is not None:
        event["body"] = json.dumps(body)
    return event
