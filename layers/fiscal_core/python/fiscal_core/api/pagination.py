"""The query parameters every list takes: a page size and the opaque cursor of the next page."""

from __future__ import annotations

from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Query

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 100

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1 to {MAX_PAGE_SIZE}.")]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description="The next_cursor of the previous page; omit for the first page."),
]
