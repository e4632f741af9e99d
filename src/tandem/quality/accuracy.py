"""Accuracy with its uncertainty, and the estimate of what leaves unchecked. Pure.

Counts of checks are small for a new agent or a rare field, so every rate comes with a
Wilson score interval (95 % unless told): it stays inside [0, 1] and behaves at 0 or n
successes, where the normal approximation does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """`correct` of `checked`, with a confidence interval."""

    checked: int
    correct: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.correct / self.checked if self.checked else None


def wilson(correct: int, checked: int, z: float = Z95) -> Rate:
    """The Wilson score interval of a proportion; (0, 1) when nothing was checked."""
    if checked <= 0:
        return Rate(0, 0, 0.0, 1.0)
    if not 0 <= correct <= checked:
        raise ValueError(f"{correct} correct of {checked} checked")
    p = correct / checked
    z2 = z * z
    centre = (p + z2 / (2 * checked)) / (1 + z2 / checked)
    half = z * math.sqrt(p * (1 - p) / checked + z2 / (4 * checked * checked)) / (1 + z2 / checked)
    return Rate(checked, correct, max(0.0, centre - half), min(1.0, centre + half))


def below_threshold(rate: Rate, threshold: float, min_checked: int = 10) -> bool:
    """Confidently below: even the interval's top is under the threshold. A short run of bad
    luck does not send a good agent back to full review."""
    return rate.checked >= min_checked and rate.high < threshold


def defect_rate(defects: int, reviewed: int) -> float:
    """The posterior mean under a uniform prior, (d + 1) / (n + 2): defined for a new agent
    (one half: assume nothing) and drawn towards the data as reviews come in."""
    return (defects + 1) / (reviewed + 2)


@dataclass(frozen=True)
class AgentOutput:
    """What one agent handed in on a process over a period, and what review found."""

    submitted: int
    reviewed: int
    sampled: int  # reviewed at random (CSP-1's sampling phase): an unbiased look
    sampled_defects: int
    defects: int  # found by any review


def estimated_escapes(outputs: Iterable[AgentOutput]) -> tuple[float, int]:
    """Expected defects among the items that left unreviewed, and how many those were.

    Each agent's unreviewed items carry that agent's defect rate as measured by random
    samples; an agent never sampled (only screened, which looks at the bad periods) is
    charged their rate over all reviews, which overstates it: the estimate errs high."""
    expected, unreviewed_total = 0.0, 0
    for output in outputs:
        unreviewed = max(output.submitted - output.reviewed, 0)
        if output.sampled:
            rate = (output.sampled_defects + 0.5) / (output.sampled + 1)  # Jeffreys
        else:
            rate = defect_rate(output.defects, output.reviewed)
        expected += unreviewed * rate
        unreviewed_total += unreviewed
    return expected, unreviewed_total
