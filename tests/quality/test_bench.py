"""`tandem bench quality` runs through the real QA code and reports what the issue asks for."""

from __future__ import annotations

import importlib


def test_quality_bench_reports_outgoing_quality_and_effort() -> None:
    bench = importlib.import_module("tandem.bench.quality")
    figures = bench.run(postgres_url=None, quick=True, log=lambda _: None, items=1_500)
    assert {"outgoing_error_rate", "review_fraction", "aoql_target"} <= set(figures)
    assert figures["delivered"] == 1_500  # every item left, reviewed or not
    assert figures["outgoing_error_rate"] <= figures["aoql_target"]
    # 37 items per agent: most are still being screened, the error-prone ones most of all.
    assert 0.5 < figures["review_fraction"] <= 1.0
    assert figures["review_fraction_at_0.005"] <= figures["review_fraction_at_0.08"]
    # The promise is checked per group of agents, not on the blend.
    for rate in ("0.005", "0.01", "0.02", "0.03", "0.05", "0.08"):
        assert figures[f"outgoing_error_rate_at_{rate}"] <= figures["aoql_target"]
