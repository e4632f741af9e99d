"""`tandem bench quality`: CSP-1 sampling, as Tandem plans it, on a simulated floor.

100 synthetic agents with known error rates (60 at 0.5 %, 30 at 2 %, 10 at 8 %) work 200,000
items (20,000 with --quick) handed out at random. Each agent's work is reviewed under a CSP-1
plan from `tandem.quality.sampling`: new agents start at full review; every 200 reviewed
items the plan is chosen again for the agent's measured error rate (a Beta(1, 1) posterior
mean over what was reviewed), always meeting the AOQL target. The reviewer catches every
defect in what is reviewed; a defect in an unreviewed item escapes. Reported: the outgoing
error rate and the fraction reviewed, overall and per group. Pure simulation: the review
workflow in the database (issue 4) is not built yet; this checks the plans and their
switching rules, which it will use.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tandem.quality.sampling import CspState, Plan, after_review, choose_plan, needs_review

Log = Callable[[str], None]
AOQL_TARGET = 0.01
MAX_REVIEW_FRACTION = 0.40
GROUPS = ((60, 0.005), (30, 0.02), (10, 0.08))
REPLAN_EVERY = 200


@dataclass
class _Agent:
    error_rate: float
    plan: Plan
    state: CspState = field(default_factory=CspState)
    items: int = 0
    reviewed: int = 0
    found: int = 0
    escaped: int = 0

    def measured_rate(self) -> float:
        return (self.found + 1) / (self.reviewed + 2)


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    del postgres_url  # a simulation: no database
    items = 20_000 if quick else 200_000
    rng = random.Random(42)
    started = time.perf_counter()
    first_plan = choose_plan(AOQL_TARGET, 0.5)  # nothing known yet: plan for the worst
    agents = [_Agent(rate, first_plan) for count, rate in GROUPS for _ in range(count)]
    for _ in range(items):
        agent = agents[rng.randrange(len(agents))]
        agent.items += 1
        defect = rng.random() < agent.error_rate
        if needs_review(agent.state, agent.plan, rng):
            agent.reviewed += 1
            agent.found += defect
            agent.state = after_review(agent.state, agent.plan, defect)
            if agent.reviewed % REPLAN_EVERY == 0:
                agent.plan = choose_plan(AOQL_TARGET, agent.measured_rate())
        elif defect:
            agent.escaped += 1
    figures: dict[str, Any] = {
        "benchmark": "quality",
        "quick": quick,
        "items": items,
        "agents": len(agents),
        "aoql_target": AOQL_TARGET,
        "outgoing_error_rate": round(sum(a.escaped for a in agents) / items, 5),
        "review_fraction": round(sum(a.reviewed for a in agents) / items, 4),
        "incoming_error_rate": round(sum(a.found + a.escaped for a in agents) / items, 5),
    }
    for _, rate in GROUPS:
        group = [a for a in agents if a.error_rate == rate]
        worked = sum(a.items for a in group) or 1
        key = f"{rate:.3f}".rstrip("0")
        figures[f"review_fraction_at_{key}"] = round(sum(a.reviewed for a in group) / worked, 4)
        figures[f"outgoing_error_rate_at_{key}"] = round(sum(a.escaped for a in group) / worked, 5)
    missed = []
    if figures["outgoing_error_rate"] > AOQL_TARGET:
        missed.append(f"outgoing_error_rate <= {AOQL_TARGET}")
    if figures["review_fraction"] > MAX_REVIEW_FRACTION:
        missed.append(f"review_fraction <= {MAX_REVIEW_FRACTION}")
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    log(
        f"outgoing error rate {figures['outgoing_error_rate']:.4f} "
        f"(AOQL {AOQL_TARGET}), review fraction {figures['review_fraction']:.3f}"
    )
    return figures
