"""What a function builds once per container (its settings, clients, services), and a fresh start.

Handlers build their services on the first invocation of a cold container and keep them while
it is warm. Every such builder is declared with :func:`once_per_container`, so the local system,
which runs every function in one process and may start several systems one after another (as
tests do), can drop them all with :func:`new_container`: nothing built against one system's
endpoints serves the next.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_BUILT: list[functools._lru_cache_wrapper[Any]] = []


def once_per_container(build: Callable[[], T]) -> functools._lru_cache_wrapper[T]:
    """``build`` runs on first use and its result is kept until :func:`new_container`."""
    cached = functools.cache(build)
    _BUILT.append(cached)
    return cached


def new_container() -> None:
    """Forget everything built so far, as a new container would start without it."""
    for cached in _BUILT:
        cached.cache_clear()
