"""Backtesting a version of the rules (typically a draft) on the process's past items:
read window by window, opened where sealed, and decided on every core; the counting is
tandem.decisions.backtest's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import Text, select
from sqlalchemy import cast as cast_

from tandem.decisions import backtest as backtest_
from tandem.decisions import engine
from tandem.decisions.engine import PendingVerdicts
from tandem.decisions.measures import latest_per_item
from tandem.decisions.models import Decision, Ruleset
from tandem.decisions.rulesets import get_ruleset, published, rules_of
from tandem.tenancy.context import Context
from tandem.vault.sealing import Keyring, opened
from tandem.work.models import WorkItem

BACKTEST_CHUNK = 2000  # items per engine call
BACKTEST_WINDOW = 20 * BACKTEST_CHUNK  # items read at a time, decided on every core


def backtest(ctx: Context, ruleset_id: uuid.UUID, *, limit: int = 100_000) -> backtest_.Report:
    """Run a version (typically a draft) over the process's most recent past items that the
    rules decided, against the published version and the analysts' final judgments. The
    published version's verdict is the stored one where that version decided the item (a
    published version never changes), and evaluated afresh otherwise."""
    session = ctx.session
    ruleset = get_ruleset(ctx, ruleset_id)
    current = published(session, ruleset.client_id, ruleset.process_id)
    draft = rules_of(ruleset)
    current_rules = rules_of(current) if current else None
    scope = (Decision.client_id == ruleset.client_id, Decision.process_id == ruleset.process_id)
    # Each item once: by its latest rules decision, with its latest judgment if any (looked
    # up item by item on its index: joined instead, a planner that has not yet seen a bulk
    # load's statistics runs the judgments' window once per item).
    latest = latest_per_item(scope, "rules")
    judgment = (
        select(Decision.outcome)
        .where(
            Decision.client_id == ruleset.client_id,
            Decision.work_item_id == latest.c.work_item_id,
            Decision.by == "analyst",
        )
        .order_by(Decision.at.desc(), Decision.id.desc())
        .limit(1)
        .correlate(latest)
        .scalar_subquery()
    )
    ruled = (
        select(
            latest.c.work_item_id,
            latest.c.outcome,
            latest.c.ruleset_version,
            # As JSON text, handed to the engine as it is: parsing it in Python first costs
            # as much as deciding it.
            cast_(WorkItem.payload, Text).label("payload"),
            judgment.label("analyst"),
            WorkItem.sealed,
        )
        .select_from(latest)
        .join(
            WorkItem,
            (WorkItem.client_id == ruleset.client_id) & (WorkItem.id == latest.c.work_item_id),
        )
        .order_by(latest.c.at.desc(), latest.c.id.desc())
        .limit(limit)
    )
    windows = session.execute(ruled).yield_per(BACKTEST_WINDOW).partitions()
    cases = _cases(
        _in_clear(windows, ctx.keyring, ruleset.client_id), draft, current, current_rules
    )
    return backtest_.compare(cases)


class _Ruled(NamedTuple):
    work_item_id: uuid.UUID
    outcome: str
    ruleset_version: int | None
    payload: str
    analyst: str | None


def _in_clear(
    windows: Iterator[Sequence[Any]], keyring: Keyring, client_id: int
) -> Iterator[Sequence[Any]]:
    """The windows with sealed personal fields opened into their payloads' JSON text."""
    for window in windows:
        yield [
            row
            if row.sealed is None
            else _Ruled(
                row.work_item_id,
                row.outcome,
                row.ruleset_version,
                _opened(keyring, client_id, row),
                row.analyst,
            )
            for row in window
        ]


def _opened(keyring: Keyring, client_id: int, row: Any) -> str:
    clear = opened(keyring, client_id, row.work_item_id, json.loads(row.payload), row.sealed)
    return json.dumps(clear)


def _cases(
    windows: Iterator[Sequence[Any]],
    draft: engine.CompiledRules,
    current: Ruleset | None,
    current_rules: engine.CompiledRules | None,
) -> Iterator[backtest_.Case]:
    """The backtest's cases, window by window: the draft decides a window on the engine's
    threads while the next one is read from the database."""
    pending: tuple[Sequence[Any], list[str], list[PendingVerdicts]] | None = None
    for window in chain(windows, [None]):
        if window is not None:
            was = [row.outcome for row in window]
            stale = [
                i
                for i, row in enumerate(window)
                if current and row.ruleset_version != current.version
            ]
            if current_rules and stale:  # decided by another version: what would this say?
                fresh = current_rules.decide_many([window[i].payload for i in stale])
                for i, verdict in zip(stale, fresh, strict=True):
                    was[i] = verdict.outcome
            decided = [
                draft.decide_later([row.payload for row in window[i : i + BACKTEST_CHUNK]])
                for i in range(0, len(window), BACKTEST_CHUNK)
            ]
        if pending is not None:
            rows, outcomes, futures = pending
            verdicts = chain.from_iterable(future.result() for future in futures)
            for row, was_, verdict in zip(rows, outcomes, verdicts, strict=True):
                yield backtest_.Case(was_, verdict.outcome, tuple(verdict.reasons), row.analyst)
        pending = (window, was, decided) if window is not None else None
