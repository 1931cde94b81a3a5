"""The DF-e sync: one page at a time from SEFAZ or the ADN into S3 and DynamoDB, by NSU cursor.

- ``contract``: the SyncState the workflow and the worker exchange; ``worker``: its four tasks;
  ``paging`` (read one page), ``post_sync`` (after catching up), ``context`` (ending a run);
- ``decisions``: what each answer does to the cursor and the run, as one table; ``wording``;
- ``sources``/``answer``: DistDFe and the ADN behind one "what comes after this NSU?";
- ``journal``: an answer kept until recorded, so a retried step never asks SEFAZ twice;
- ``items`` → ``page_plan`` → ``page_store`` (``objects``, ``page_records``): storing a page once,
  durably, with exact counts; ``notes``: orphan events and NSU gaps between pages;
- ``ciencia``, ``single_queries``: automatic Ciência, consChNFe fallback and consNSU gap filling
  inside SEFAZ's hourly 20;
- ``credentials``/``services``: the company's A1 opened in memory and the clients presenting it;
- ``runs``: the run record and audit; ``fan_out``: the scheduled start; ``continuation``;
- ``crash``: fault-injection points; ``policy``: pacing; ``runtime``: wiring from settings.
"""
