"""Who is calling: the first request opens an account; invitations; roles; MFA enforcement."""

from __future__ import annotations

from fiscal_core.api.context import MFA_HELP


def test_first_request_of_a_new_user_opens_their_account(call, directory) -> None:
    directory.add("s1", "ana@example.com", "Ana")
    me = call("GET", "/me", sub="s1")
    assert me.status == 200
    assert me.body["user"]["account_role"] == "OWNER"
    assert me.body["user"]["email"] == "ana@example.com"
    assert me.body["all_companies_role"] == "ADMIN"
    assert me.body["mfa"] == {"totp_enabled": False, "required": False}
    again = call("GET", "/me", sub="s1")
    assert again.body["account"]["account_id"] == me.body["account"]["account_id"]
    log = call("GET", "/audit-logs", sub="s1").body["items"]
    assert [e["action"] for e in log] == ["account.create"]
    assert log[0]["ip"] == "198.51.100.7"
    assert log[0]["user_agent"] == "pytest-agent"


def test_a_request_without_claims_is_unauthenticated(call) -> None:
    reply = call("GET", "/me")
    assert reply.status == 401
    assert reply.headers["Content-Type"] == "application/problem+json"


def test_invited_user_joins_the_inviting_account_as_invited_then_active(call, directory) -> None:
    directory.add("owner", "owner@example.com")
    invited = call("POST", "/account/users", sub="owner", body={"email": "Bia@Example.com", "name": "Bia"})
    assert invited.status == 201
    assert invited.body["status"] == "INVITED"
    assert invited.body["email"] == "bia@example.com"
    assert "password" not in str(invited.body).lower()
    bia_sub = next(u.sub for u in directory.users.values() if u.email == "bia@example.com")
    me = call("GET", "/me", sub=bia_sub)
    owner_me = call("GET", "/me", sub="owner")
    assert me.body["account"]["account_id"] == owner_me.body["account"]["account_id"]
    assert me.body["user"]["status"] == "ACTIVE"
    assert me.body["user"]["account_role"] == "MEMBER"
    assert me.body["all_companies_role"] is None


def test_inviting_a_taken_email_is_a_conflict(call, directory) -> None:
    directory.add("owner", "owner@example.com")
    reply = call("POST", "/account/users", sub="owner", body={"email": "owner@example.com"})
    assert reply.status == 409


def test_invitation_body_is_validated(call, directory) -> None:
    directory.add("owner", "owner@example.com")
    reply = call("POST", "/account/users", sub="owner", body={"email": "not-an-email", "account_role": "GOD"})
    assert reply.status == 422
    assert {e["field"] for e in reply.body["errors"]} == {"email", "account_role"}


def _member(call, directory, role: str = "MEMBER") -> tuple[str, str]:
    """An owner and a user invited with ``role``; their subs."""
    directory.add("owner", "owner@example.com")
    call("POST", "/account/users", sub="owner", body={"email": "m@example.com", "account_role": role})
    sub = next(u.sub for u in directory.users.values() if u.email == "m@example.com")
    call("GET", "/me", sub=sub)
    return "owner", sub


def test_members_cannot_manage_users_or_settings(call, directory) -> None:
    _, member = _member(call, directory)
    for method, path, body in (
        ("GET", "/account/users", None),
        ("POST", "/account/users", {"email": "x@example.com"}),
        ("PATCH", "/account", {"name": "Mine"}),
        ("GET", "/audit-logs", None),
    ):
        reply = call(method, path, sub=member, body=body)
        assert reply.status == 403, (method, path)
        assert reply.body["type"] == "/problems/forbidden"


def test_role_changes_keep_an_owner_and_only_owners_make_owners(call, directory) -> None:
    owner, admin = _member(call, directory, "ADMIN")
    users = call("GET", "/account/users", sub=owner).body["items"]
    by_email = {u["email"]: u["user_id"] for u in users}
    owner_id, admin_id = by_email["owner@example.com"], by_email["m@example.com"]
    assert (
        call("PATCH", f"/account/users/{owner_id}", sub=admin, body={"account_role": "MEMBER"}).status == 403
    )
    assert (
        call("PATCH", f"/account/users/{owner_id}", sub=owner, body={"account_role": "ADMIN"}).status == 409
    )
    promoted = call("PATCH", f"/account/users/{admin_id}", sub=owner, body={"account_role": "OWNER"})
    assert promoted.body["account_role"] == "OWNER"
    demoted = call("PATCH", f"/account/users/{owner_id}", sub=owner, body={"account_role": "ADMIN"})
    assert demoted.body["account_role"] == "ADMIN"
    assert call("PATCH", "/account/users/nosuchuser", sub=admin, body={"account_role": "ADMIN"}).status == 404


def test_required_mfa_refuses_users_without_totp_except_on_me(call, directory) -> None:
    directory.add("owner", "owner@example.com", totp=False)
    call("GET", "/me", sub="owner")
    refused = call("PATCH", "/account", sub="owner", body={"require_mfa": True})
    assert refused.status == 409  # they would lock themselves out
    directory.set_totp("owner", True)
    assert call("PATCH", "/account", sub="owner", body={"require_mfa": True}).body["require_mfa"] is True
    call("POST", "/account/users", sub="owner", body={"email": "m@example.com"})
    member = next(u.sub for u in directory.users.values() if u.email == "m@example.com")
    blocked = call("GET", "/companies", sub=member)
    assert blocked.status == 403
    assert blocked.body["type"] == "/problems/mfa-required"
    assert blocked.body["detail"] == MFA_HELP
    me = call("GET", "/me", sub=member)
    assert me.status == 200
    assert me.body["mfa"] == {"totp_enabled": False, "required": True}
    directory.set_totp(member, True)
    assert call("GET", "/companies", sub=member).status == 200
