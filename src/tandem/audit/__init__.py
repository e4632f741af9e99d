"""The tamper-evident audit trail: an append-only, hash-chained log per client."""
