"""Agents pull work: claim with a lease, heartbeat, release, submit; the reaper."""
