"""`aai-mcp archive duplicates` on SQLite and PostgreSQL: each group of one account's transcripts of
the same audio, oldest first with dates; none said plainly; no database password in the output."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aai_mcp.state.archive_store import ArchivedTranscript, ArchiveStore
from tests.support.servers import clean_env
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow  # a real `aai-mcp` process
DAY = 86_400.0


def _duplicates(store_config: StoreConfig) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aai_mcp", "archive", "duplicates"]
    env = clean_env(**store_config.env())
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_duplicates_are_listed_per_account_oldest_first(store_config: StoreConfig) -> None:
    opened = store_config.open(auto_upgrade=True)
    try:
        archive = ArchiveStore(opened.engine)
        assert "No duplicates" in _duplicates(store_config).stdout
        rows = (
            ("later", "sha256:ab", 20 * DAY),
            ("first", "sha256:ab", 10 * DAY),
            ("alone", "sha256:cd", DAY),
        )
        for transcript_id, audio_hash, created in rows:
            archive.upsert(
                ArchivedTranscript(transcript_id, "completed", {}, created_at=created, audio_hash=audio_hash)
            )
    finally:
        opened.close()
    done = _duplicates(store_config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1 audio files transcribed more than once (1 duplicate transcripts):",
        "sha256:ab  account default  2 transcripts",
        "  first  1970-01-11T00:00:00Z",
        "  later  1970-01-21T00:00:00Z",
    ]
    if store_config.database_url is not None:
        assert store_config.password() not in done.stdout + done.stderr
