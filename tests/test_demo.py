"""`tandem demo` seeds a working operation through the real use cases."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import func, select

from tandem.db import transaction
from tandem.demo import seed
from tandem.http import Container
from tandem.work.models import WorkItem
from tandem.workforce.models import Agent
from tests.conftest import ROOT


def test_demo_seed_builds_an_operation_in_many_states(container: Container) -> None:
    tokens = seed(container, items_per_process=40)
    with transaction(container.sessions) as session:
        states: dict[str, Any] = dict(
            session.execute(select(WorkItem.state, func.count()).group_by(WorkItem.state)).all()
        )
        agents = session.scalar(select(func.count()).select_from(Agent))
    assert agents == 60
    assert sum(states.values()) == 160 + 4 * 8  # and the latest, unworked arrivals
    assert {"queued", "delivered", "waiting", "cancelled"} <= set(states)
    assert set(tokens) >= {"ops", "agent", "northwind"}


def test_cli_migrate_and_clear_config_errors(tmp_path: Any) -> None:
    env = {"TANDEM_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": ""}
    ok = subprocess.run(
        [sys.executable, "-m", "tandem.cli", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "tandem.cli", "migrate"],
        cwd=ROOT,
        env={**env, "TANDEM_DATABASE_URL": "oracle://x"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "TANDEM_DATABASE_URL" in bad.stderr
