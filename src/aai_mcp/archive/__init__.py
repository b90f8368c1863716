"""The transcript archive's work: getting transcripts out of AssemblyAI into the store (backfill;
sync and webhook capture later). The CLI (cli/archive_admin.py) is its front door; the store's side is
state/archive_store.py."""
