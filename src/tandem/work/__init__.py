"""Work items, their lifecycle state machine and their event history."""
