"""The caches of immutable facts are bounded, least recently used out."""

from __future__ import annotations

import pytest

from tandem.core.caching import Caches


def test_a_cache_keeps_at_most_its_bound_and_drops_the_least_recently_used() -> None:
    caches = Caches()
    cache = caches.bounded("test.squares", 2)
    loads: list[int] = []

    def square(n: int) -> int:
        return cache.get_or_load(n, lambda: loads.append(n) or n * n)

    assert [square(1), square(2), square(1), square(3)] == [1, 4, 1, 9]
    assert len(cache) == 2  # 2 went out: 1 was used after it
    assert [square(1), square(2)] == [1, 4]
    assert loads == [1, 2, 3, 2]


def test_the_registry_sizes_and_clears_every_cache() -> None:
    caches = Caches()
    cache = caches.bounded("test.numbers", 10)
    for n in range(10):
        cache.get_or_load(n, lambda n=n: n)
    caches.configure(0.5)
    assert (cache.maxsize, len(cache)) == (5, 5)
    caches.configure(2.0)  # from the declared bound, not the current one
    assert cache.maxsize == 20
    caches.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="exists already"):
        caches.bounded("test.numbers", 1)
