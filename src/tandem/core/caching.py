"""Bounded caches of facts that never change once written (a process's forms, a ruleset
version's compiled rules), kept per server process.

Each cache is declared by the module that fills it, with a bound, and listed in one registry
(as Prometheus metrics are), so that the composition root (tandem.container) sizes them from
the settings and clears them, and nothing grows without limit."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A map of at most `maxsize` entries: the least recently used goes first. Safe to share
    across threads; a value is loaded outside the lock (two threads may load the same key
    once each: the values are equal, the facts being immutable). With `ttl_s`, an entry is
    kept that many seconds at most (what should not stay in memory long, such as a
    document's pages in clear)."""

    def __init__(self, name: str, maxsize: int, ttl_s: float | None = None) -> None:
        self.name = name
        self.declared = maxsize  # the bound its module declared
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._born: dict[K, float] = {}  # with a ttl: when each entry was loaded
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                if self.ttl_s is None or time.monotonic() - self._born[key] < self.ttl_s:
                    self._entries.move_to_end(key)
                    return self._entries[key]
                del self._entries[key], self._born[key]
        value = load()
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if self.ttl_s is not None:
                now = self._born[key] = time.monotonic()
                for old in [k for k, born in self._born.items() if now - born >= self.ttl_s]:
                    del self._entries[old], self._born[old]
            while len(self._entries) > self.maxsize:
                self._born.pop(self._entries.popitem(last=False)[0], None)
        return value

    def resize(self, maxsize: int) -> None:
        with self._lock:
            self.maxsize = maxsize
            while len(self._entries) > maxsize:
                self._born.pop(self._entries.popitem(last=False)[0], None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._born.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Caches:
    """The registry of every cache in the server process."""

    def __init__(self) -> None:
        self._caches: dict[str, LruCache[Hashable, object]] = {}

    def bounded(self, name: str, maxsize: int, ttl_s: float | None = None) -> LruCache[K, V]:
        """A new cache, listed here under `name` (its entries kept `ttl_s` at most)."""
        if name in self._caches:
            raise ValueError(f"a cache named {name!r} exists already")
        cache: LruCache[K, V] = LruCache(name, maxsize, ttl_s)
        self._caches[name] = cache  # type: ignore[assignment]
        return cache

    def __iter__(self) -> Iterator[LruCache[Hashable, object]]:
        return iter(list(self._caches.values()))

    def configure(self, scale: float) -> None:
        """Every cache's declared bound times `scale` (the composition root's setting)."""
        for cache in self:
            cache.resize(max(1, int(cache.declared * scale)))

    def clear(self) -> None:
        for cache in self:
            cache.clear()


CACHES = Caches()
