"""The batch-sync loop both operators share: cursor, checkpoint, prefetch, progress, summary."""
