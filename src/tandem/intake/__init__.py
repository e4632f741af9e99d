"""Intake: work arriving from clients, one item at a time or in bulk files."""
