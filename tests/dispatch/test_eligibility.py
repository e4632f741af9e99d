"""Who may serve a queue: clearance, skills, language, shift, and referrals for analysts."""

from __future__ import annotations

from datetime import UTC, datetime

from tandem.workforce.eligibility import (
    AgentProfile,
    QueueRequirements,
    WeeklyShift,
    can_serve,
    servable_queues,
)

ALWAYS = tuple(WeeklyShift(day, 0, 1440) for day in range(7))


def _agent(**changes: object) -> AgentProfile:
    base: dict[str, object] = {
        "skills": {"insurance": 3},
        "languages": {"en": "C1"},
        "cleared_clients": frozenset({1}),
        "center_timezone": "Asia/Manila",
        "shifts": ALWAYS,
    }
    return AgentProfile(**{**base, **changes})  # type: ignore[arg-type]


def test_referrals_go_only_to_those_who_may_judge_them() -> None:
    referrals = QueueRequirements(1, "underwriting", {"insurance": 3}, judged=True)
    keying = QueueRequirements(1, "app-keying", {"insurance": 2})
    agent, analyst = _agent(judges=False), _agent(judges=True)
    assert not can_serve(agent, referrals) and can_serve(agent, keying)
    assert can_serve(analyst, referrals)
    now = datetime(2026, 3, 4, 15, tzinfo=UTC)
    assert servable_queues(agent, [referrals, keying], now) == [(1, "app-keying")]


def test_clearance_skill_and_language_levels() -> None:
    queue = QueueRequirements(1, "support", {"insurance": 3}, "en", "B2")
    assert can_serve(_agent(), queue)
    assert not can_serve(_agent(cleared_clients=frozenset({2})), queue)
    assert not can_serve(_agent(skills={"insurance": 2}), queue)
    assert not can_serve(_agent(languages={"en": "B1"}), queue)
