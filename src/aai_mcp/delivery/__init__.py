"""Delivery to downstream tools: each newly archived transcript and each extraction result, as JSON
signed with HMAC-SHA256, to every configured destination, through an outbox in the store (retried
with backoff, dead letters kept and replayable). The store's side is state/delivery_outbox.py; the
CLI's is cli/archive_delivery.py."""
