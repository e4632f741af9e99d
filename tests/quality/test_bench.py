"""`tandem bench quality --quick` runs and reports what the issue asks for."""

from __future__ import annotations

import importlib


def test_quality_bench_reports_outgoing_quality_and_effort() -> None:
    bench = importlib.import_module("tandem.bench.quality")
    figures = bench.run(postgres_url=None, quick=True, log=lambda _: None)
    assert {"outgoing_error_rate", "review_fraction", "aoql_target"} <= set(figures)
    assert figures["outgoing_error_rate"] <= figures["aoql_target"]
    # Agents who err more are reviewed more.
    assert figures["review_fraction_at_0.005"] < figures["review_fraction_at_0.08"]
