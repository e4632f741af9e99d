"""Benchmarks run by `tandem bench NAME`. Each returns a flat dict of its figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tandem.bench.console import run as console
from tandem.bench.decisions import run as decisions
from tandem.bench.dispatch import run as dispatch
from tandem.bench.intake import run as intake
from tandem.bench.privacy import run as privacy
from tandem.bench.quality import run as quality

Benchmark = Callable[..., dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {
    "dispatch": dispatch,
    "intake": intake,
    "decisions": decisions,
    "quality": quality,
    "privacy": privacy,
    "console": console,
}
