"""Getting results back to the client: status, exports per batch, signed webhooks."""
