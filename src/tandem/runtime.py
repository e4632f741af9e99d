"""Interpreter settings every Tandem process starts with (server, worker, CLI, benchmarks)."""

from __future__ import annotations

import sys

# CPython hands the GIL to a waiting thread only every 5 ms by default. A thread whose database
# call has just returned (a claim committed, a bulk-intake chunk stored) then waits up to that
# long per call while another thread computes: measured, bulk intake into SQLite ran at 15,000
# rows/s with its reading and writing threads taking turns, and at 20,000 with 1 ms.
GIL_SWITCH_INTERVAL_S = 0.001


def configure_interpreter() -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
