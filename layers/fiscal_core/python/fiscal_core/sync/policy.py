"""The sync's pacing and limits as one value, built from the settings once per cold start.

SEFAZ's own numbers (one hour after 137, 20 single queries an hour) live with the protocol code
(fiscal_core.sefaz, storage.budget); these are FiscalMix's choices around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from fiscal_core.settings import Settings
from fiscal_core.storage.records import Family

# Ajuste SINIEF 44/20: where adopted, Ciência must come within 10 days of the authorisation;
# sending it later earns 596, so older summaries are left to the user.
CIENCIA_DEADLINE: Final = timedelta(days=10)
# Documents stay at the AN for 90 days (NT 2014.002); asking for older ones earns 632.
DISTRIBUTION_RETENTION: Final = timedelta(days=90)
# The AN accepts at most 20 events per envEvento lot.
CIENCIA_LOT_SIZE: Final = 20
# Families with a distribution service FiscalMix reads (MDF-e events arrive with the NF-e).
SYNCED_FAMILIES: Final = frozenset({Family.NFE, Family.CTE, Family.NFSE})


@dataclass(frozen=True)
class SyncPolicy:
    """How the worker paces itself; every field has the production default."""

    page_pause_seconds: int = 2
    wait_margin: timedelta = timedelta(minutes=5)
    lease_ttl: timedelta = timedelta(minutes=10)
    paused_retry: timedelta = timedelta(minutes=30)
    execution_page_limit: int = 1000
    # A summary whose full XML has not come this long after a releasing manifestação is fetched
    # by access key (consChNFe); after the window it is left alone, so a note SEFAZ never
    # releases does not eat the hourly budget forever.
    full_xml_fallback_after: timedelta = timedelta(hours=6)
    full_xml_fallback_window: timedelta = timedelta(days=7)
    ciencia_lots_per_step: int = 10
    # Waits SEFAZ asks for inside a run (ADN 429) up to this long; longer ones end the run.
    longest_wait_in_run: timedelta = timedelta(minutes=5)
    store_threads: int = 8
    # How long the workflow waits for an A3 agent's answer before the run fails (agent offline).
    agent_timeout_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncPolicy:
        """The policy the deployment's settings describe."""
        return cls(
            page_pause_seconds=settings.sync_page_pause_seconds,
            wait_margin=timedelta(seconds=settings.sync_wait_margin_seconds),
            lease_ttl=timedelta(seconds=settings.sync_lease_seconds),
            paused_retry=timedelta(seconds=settings.sync_paused_retry_seconds),
            execution_page_limit=settings.sync_execution_page_limit,
            full_xml_fallback_after=timedelta(hours=settings.sync_full_xml_fallback_hours),
            store_threads=settings.sync_store_threads,
            agent_timeout_seconds=settings.sync_agent_timeout_seconds,
        )
