"""FiscalMix's pydantic base model: each model's validator is built on its first use, not at import.

Building a model's core schema, validator and serializer is most of what defining it costs (about
a millisecond each). Every cold start would pay it at import for every model its modules define,
while a request touches a handful. With ``defer_build`` a model is built on its first
validation, serialisation or JSON schema, once per process (bench/coldstart.py measures it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """The base of FiscalMix's pydantic models; a subclass's ``model_config`` adds to this one."""

    model_config = ConfigDict(defer_build=True)
