"""One error shape everywhere, and the OpenAPI document generated from the routes."""

from __future__ import annotations


def test_unknown_routes_and_methods_are_problem_details(call, directory) -> None:
    directory.add("s1", "a@example.com")
    for method, path in (("GET", "/nowhere"), ("DELETE", "/me"), ("PUT", "/companies")):
        reply = call(method, path, sub="s1")
        assert reply.status == 404
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert set(reply.body) == {"type", "title", "status", "detail", "instance"}
        assert reply.body["instance"] == path


def test_validation_errors_name_each_field_and_never_echo_input(call, directory) -> None:
    directory.add("s1", "a@example.com")
    reply = call(
        "POST",
        "/companies",
        sub="s1",
        body={"cnpj": "11.111.111/1111-11", "uf": "XX", "legal_name": "", "secret": "hunter2"},
    )
    assert reply.status == 422
    assert {(e["field"], e["location"]) for e in reply.body["errors"]} == {
        ("cnpj", "body"),
        ("uf", "body"),
        ("legal_name", "body"),
        ("secret", "body"),
    }
    assert "hunter2" not in str(reply.body)


def test_malformed_json_is_a_422(call, directory) -> None:
    directory.add("s1", "a@example.com")
    reply = call("POST", "/companies", sub="s1", raw_body=b"{not json", content_type="application/json")
    assert reply.status == 422


def test_openapi_document_is_3_1_and_every_route_declares_problem_responses(call) -> None:
    document = call("GET", "/openapi.json").body
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["cognito"]["scheme"] == "bearer"
    assert "/health" in document["paths"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/health":
                continue
            assert "application/problem+json" in operation["responses"]["422"]["content"], (path, method)
            assert "401" in operation["responses"], (path, method)
            if "204" in operation["responses"]:  # no body, so no media type to promise one
                assert operation["responses"]["204"].get("content", {}) == {}, (path, method)


def test_docs_page_is_served(call) -> None:
    reply = call("GET", "/docs")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html"
