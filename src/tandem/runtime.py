"""Interpreter settings for work split between threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# CPython hands the GIL to a waiting thread only every 5 ms by default. In a pipeline of two
# threads, one computing and one waiting on the database, the waiting one then loses up to
# that long after each call: bulk intake into SQLite ran at 15,000 rows/s with its reading and
# writing threads taking turns, and at 20,000 with 1 ms. Process-wide 1 ms costs the many
# claim threads of an API process more switching (measured: +0.8 ms of CPU per claim and
# submit), hence only while such a pipeline runs.
PIPELINE_SWITCH_INTERVAL_S = 0.001

_lock = threading.Lock()
_pipelines = 0
_default_interval = sys.getswitchinterval()


@contextmanager
def quick_thread_handoffs() -> Iterator[None]:
    """Switch threads every millisecond while at least one such block runs."""
    global _pipelines, _default_interval
    with _lock:
        if _pipelines == 0:
            _default_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_default_interval, PIPELINE_SWITCH_INTERVAL_S))
        _pipelines += 1
    try:
        yield
    finally:
        with _lock:
            _pipelines -= 1
            if _pipelines == 0:
                sys.setswitchinterval(_default_interval)
