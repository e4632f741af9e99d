"""Interpreter settings for bulk work split between threads, held only while it runs."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# CPython hands the GIL to a waiting thread only every 5 ms by default. In a pipeline of two
# threads, one computing and one waiting on the database, the waiting one then loses up to
# that long after each call: bulk intake into SQLite ran at 15,000 rows/s with its reading and
# writing threads taking turns, and at 20,000 with 1 ms. Process-wide 1 ms costs the many
# claim threads of an API process more switching (measured: +0.8 ms of CPU per claim and
# submit), hence only while such a pipeline runs.
PIPELINE_SWITCH_INTERVAL_S = 0.001


class ProcessSetting:
    """A process-wide setting held while at least one block needs it: the first block in
    applies it, the last one out restores what was there before."""

    def __init__(self, apply: Callable[[], Callable[[], None]]) -> None:
        self._apply = apply  # applies the setting, returns how to restore the previous one
        self._lock = threading.Lock()
        self._holders = 0
        self._restore: Callable[[], None] = lambda: None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._restore = self._apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._restore()


def _switch_every_millisecond() -> Callable[[], None]:
    default = sys.getswitchinterval()
    sys.setswitchinterval(min(default, PIPELINE_SWITCH_INTERVAL_S))
    return lambda: sys.setswitchinterval(default)


def _no_cycle_collection() -> Callable[[], None]:
    was_enabled = gc.isenabled()
    gc.disable()
    return gc.enable if was_enabled else lambda: None


quick_thread_handoffs = ProcessSetting(_switch_every_millisecond).held
"""Switch threads every millisecond while at least one such block runs."""

paused_cycle_collection = ProcessSetting(_no_cycle_collection).held
"""No cyclic garbage collection while at least one such block runs. A file's rows are plain
dicts and lists, freed by reference counting as each chunk is written; the collector, which
runs every 700 new containers, walked the rows buffered for writing again and again and the
whole heap now and then: 100,000 rows took 1.5 s to queue with it and 1.3 s without, and
masking and sealing their personal fields (two more dicts a row) cost 30 % more time instead
of 12 % (SQLite). Garbage in cycles made meanwhile, by any thread, waits for the block's end."""
