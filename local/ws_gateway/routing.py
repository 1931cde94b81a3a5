"""Route selection as API Gateway WebSocket APIs do it: a JSON field of the message body names the route.

https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-routes.html:
the route selection expression (``$request.body.action`` or ``${request.body.action}``) is
evaluated on each incoming message; a message that is not JSON, or whose field names no route,
goes to ``$default``; without ``$default`` the client gets an error frame.
"""

from __future__ import annotations

import json

CONNECT_ROUTE = "$connect"
DISCONNECT_ROUTE = "$disconnect"
DEFAULT_ROUTE = "$default"
# Lifecycle routes are called by the gateway itself; a message that names one must not reach it.
LIFECYCLE_ROUTES = frozenset({CONNECT_ROUTE, DISCONNECT_ROUTE})

_BODY_PREFIX = "request.body."


def selection_path(expression: str) -> tuple[str, ...]:
    """The JSON keys a route selection expression walks: ``$request.body.a.b`` → ``("a", "b")``."""
    if expression.startswith("${") and expression.endswith("}"):
        inner = expression[2:-1]
    elif expression.startswith("$") and not expression.startswith("${"):
        inner = expression[1:]
    else:
        inner = ""
    keys = tuple(inner.removeprefix(_BODY_PREFIX).split("."))
    if not inner.startswith(_BODY_PREFIX) or not all(keys):
        raise ValueError(
            f"unsupported route selection expression {expression!r}: "
            "use $request.body.<field>[.<field>...] or ${request.body.<field>...}"
        )
    return keys


def selected_route_key(path: tuple[str, ...], message: str | bytes) -> str | None:
    """The route key a message selects, or None when it selects nothing (binary, not JSON, no field)."""
    if isinstance(message, bytes):
        return None
    try:
        value: object = json.loads(message)
    except ValueError:
        return None
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    # Only strings are compared with route keys; anything else falls through to $default.
    return value if isinstance(value, str) else None
