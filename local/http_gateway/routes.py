"""HTTP API routes and how a request finds one.

API Gateway's rules (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):
a route key is ``METHOD /path``, ``ANY /path`` or ``$default``; a path segment ``{name}`` matches one
segment and a final ``{name+}`` one or more; the most specific match wins, with ``$default``
taking whatever nothing else matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from local.lambda_runtime import Handler

DEFAULT_ROUTE_KEY = "$default"
# How closely a route fits a request; the greater tuple is the more specific route.
_Specificity = tuple[int, tuple[int, ...], int]
_METHODS = frozenset({"ANY", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class HttpRoute:
    """One route of the HTTP API and the Lambda integration behind it.

    ``authorization`` has no default on purpose: an open route is a decision, not an omission.
    ``timeout_seconds`` is the function's own timeout, the one its Lambda context reports.
    """

    route_key: str
    handler: Handler
    function_name: str
    authorization: Literal["NONE", "JWT"]
    scopes: tuple[str, ...] = ()
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        _Pattern.parse(self.route_key)  # fails early on a key API Gateway would reject


@dataclass(frozen=True)
class RouteMatch:
    """The route a request reached and the path parameters it bound (decoded, as the event has them)."""

    route: HttpRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Pattern:
    method: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, route_key: str) -> _Pattern | None:
        """The pattern of a route key; None for ``$default``."""
        if route_key == DEFAULT_ROUTE_KEY:
            return None
        method, _, path = route_key.partition(" ")
        if method not in _METHODS or not path.startswith("/"):
            raise ValueError(f"route key {route_key!r} is not 'METHOD /path', 'ANY /path' or '$default'")
        segments = tuple(path.split("/")[1:]) if path != "/" else ()
        if any(_is_greedy(segment) for segment in segments[:-1]):
            raise ValueError(f"route key {route_key!r}: a greedy {{name+}} must be the last segment")
        return cls(method, segments)

    def match(self, method: str, path_segments: Sequence[str]) -> tuple[_Specificity, dict[str, str]] | None:
        """The specificity of a match and its bindings, or None if the request does not fit."""
        if self.method not in ("ANY", method):
            return None
        greedy = bool(self.segments) and _is_greedy(self.segments[-1])
        fixed = self.segments[:-1] if greedy else self.segments
        if len(path_segments) < len(fixed) + greedy or (not greedy and len(path_segments) != len(fixed)):
            return None
        bindings: dict[str, str] = {}
        # Per segment: 2 for a literal, 1 for a variable, so literals win left to right.
        kinds: list[int] = []
        for pattern, actual in zip(fixed, path_segments, strict=False):
            if _is_variable(pattern):
                if not actual:
                    return None
                bindings[pattern[1:-1]] = unquote(actual)
                kinds.append(1)
            elif pattern == actual:
                kinds.append(2)
            else:
                return None
        if greedy:
            rest = "/".join(path_segments[len(fixed) :])
            if not rest:
                return None
            bindings[self.segments[-1][1:-2]] = unquote(rest)
        # A full match beats a greedy one; then literal segments; then an exact method beats ANY.
        return (int(not greedy), tuple(kinds), int(self.method != "ANY")), bindings


class RouteTable:
    """The routes of one HTTP API, resolved the way API Gateway resolves them."""

    def __init__(self, routes: Sequence[HttpRoute]) -> None:
        keys = [route.route_key for route in routes]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"duplicate route keys: {duplicates}")
        self._default = next((route for route in routes if route.route_key == DEFAULT_ROUTE_KEY), None)
        self._patterned = [
            (pattern, route) for route in routes if (pattern := _Pattern.parse(route.route_key)) is not None
        ]

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The most specific route for a request, ``$default`` if none fits, or None (a 404)."""
        segments = raw_path.split("/")[1:] if raw_path != "/" else []
        best: tuple[_Specificity, RouteMatch] | None = None
        for pattern, route in self._patterned:
            found = pattern.match(method, segments)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], RouteMatch(route, found[1]))
        if best is not None:
            return best[1]
        return RouteMatch(self._default, {}) if self._default else None


def _is_variable(segment: str) -> bool:
    return len(segment) > 2 and segment.startswith("{") and segment.endswith("}")


def _is_greedy(segment: str) -> bool:
    return _is_variable(segment) and segment.endswith("+}")
