"""The API's request and response bodies (Pydantic): what the OpenAPI document describes."""
