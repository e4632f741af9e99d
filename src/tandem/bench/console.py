"""`tandem bench console`: server time to render the operations floor and the client portal
with 1,000,000 work items in PostgreSQL (20,000 with --quick).

A scratch database gets the demo's three clients, four processes, three delivery centers and
60 agents with their shifts (tandem.demo), the underwriting rules published, then the items
and everything the two pages read, written by the database itself (generate_series and
INSERT ... SELECT; the seeding is timed apart, `seed_s`, and never counted in the pages'
figures). Every process gets the same share of the items and the same mix of states; the
proportions (of a process's items, unless said otherwise):

- states: 85 % delivered, 10 % queued, 2 % leased, 2 % waiting, 1 % in review; times spread
  evenly over the last 60 days, each due 4 hours after it arrived (3 hours: at risk); a
  delivery 20 minutes to 4.5 hours after arrival (about one in nine late);
- files: a process's items come in slots of 2,000 (about 12 hours); each slot opens with one
  file of 500 to 1,999 rows (about 62 % of the items, received together at the file's upload
  time) and the rest of the slot arrives one by one through the API. Customer-service tickets
  (a conversation process) always arrive one by one. One file in five is accepted row by row
  (accept_valid) with 1 to 12 rows rejected; about one file in twenty was first sent with
  errors and rejected whole (a file with no items, 40 minutes before its corrected copy);
  formats 60 % CSV, 30 % Excel, 10 % JSON lines;
- lease owners: an item an agent worked (delivered other than by the rules, in review, or
  leased) names the agent, one of those the process's skill requirements and the client's
  clearances allow, in even shares; a leased item's lease is live (expires in 1 to 5
  minutes, held by one of those agents on shift now) when it arrived in the last day, and
  ran out an hour after its arrival otherwise (the reaper's backlog);
- decisions (the decision process): every item has the rules' decision at arrival; 40 %
  (40 of the 85 % delivered) are decided straight through (8 in 10 approved, 2 declined) and
  delivered at once, with no agent; the rest are referred (with the advice to approve in
  half of them, to decline in three in ten, none for missing data) and queued; each
  referral delivered or in review has an analyst's judgment (in review: a decline waiting
  for four eyes; delivered: 7 in 10 approved), and each delivered decline a second
  analyst's confirmation;
- quality: a sample of the items agents delivered was reviewed before delivery, each
  review checking every field of the process's result form (the scorecard's five criteria
  for conversations), 1.5 % of the checks failing: 10 % of data keying, 25 % of document
  review, 5 % of tickets, 3 % of underwriting judgments; each item in review (other than a
  decline awaiting four eyes) waits in the review queue.

After VACUUM ANALYZE, the real app (create_app) answers `GET /console/operations` as an ops
manager and `GET /console/portal` as the insurer's admin, in process through its ASGI
interface (no socket: the server's time, not the network's), connected as an ordinary role as
production runs (`tandem_bench_app`, created if missing: a superuser would skip the tenant
policies, whose cost is part of every client's page); warm-up requests first, then the
median and the slowest of the timed ones. Before timing, the benchmark checks that the pages
show data (each of the portal's KPIs has a value, the file list and latest items have rows,
the floor has queues, urgent work, agents working now and deliveries in the last 24 hours):
an empty table fails the benchmark instead of being measured.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import make_url, select, text
from sqlalchemy.engine import Connection

from tandem.app import create_app
from tandem.bench.dispatch import (
    ScratchDatabase,
    busy_cores_now,
    require_postgres_url,
    scratch_database,
)
from tandem.bench.intake import Log
from tandem.catalog.models import Process
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.decisions import underwriting
from tandem.decisions.models import Ruleset
from tandem.demo import _clients, _processes, _workforce
from tandem.quality.policy import Policy
from tandem.reports.floor import floor
from tandem.reports.kpis import client_kpis
from tandem.tenancy.principal import Principal
from tandem.tenancy.service import create_user, issue_token
from tandem.web.portal import PERIOD, RECENT
from tandem.work import queries
from tandem.work.models import Batch
from tandem.workforce.eligibility import WeeklyShift, on_shift
from tandem.workforce.models import Agent, DeliveryCenter, Shift

TARGET_MS = 300.0
WARM_UP = 3
TIMED = 15
DAYS = 60
SLOT = 2_000  # a process's items per file slot: one file, then single arrivals
FILE_ROWS = (500, 2_000)  # a file's rows: from the first, below the second
# Of a process's items delivered by agents, those reviewed (per mille), by process code.
REVIEWED = {"app-keying": 100, "doc-review": 250, "support": 50, "underwriting": 30}
REVIEWED_OTHERWISE = 50
FAILED_CHECKS = 15  # per mille of field checks

# The processes in a fixed order (an item's process is its number modulo their count), with
# the agents who may work each, their number, the review rate and the published rules.
_PROCESSES = """
CREATE TEMP TABLE bench_processes ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY client_id, code) - 1)::int AS pi, client_id, id, code,
       kind, 0 AS agents, 0 AS on_shift, 0 AS reviewed, NULL::uuid AS ruleset_id,
       NULL::int AS ruleset_version, ''::text AS input_field
FROM processes
"""
# Agents with every skill the process requires at its level, cleared for its client: k
# numbers them all, ks those on shift now.
_ON_SHIFT = "CREATE TEMP TABLE bench_on_shift (agent_id uuid PRIMARY KEY) ON COMMIT DROP"
_AGENTS = """
CREATE TEMP TABLE bench_agents ON COMMIT DROP AS
SELECT p.id AS process_id, (row_number() OVER (PARTITION BY p.id ORDER BY a.id) - 1)::int AS k,
       CASE WHEN z.on_shift
            THEN row_number() OVER (PARTITION BY p.id, z.on_shift ORDER BY a.id) - 1
       END::int AS ks,
       a.id AS agent_id
FROM processes p
JOIN agents a ON a.active
JOIN agent_clearances c ON c.client_id = p.client_id AND c.agent_id = a.id
CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM bench_on_shift o WHERE o.agent_id = a.id)
                    AS on_shift) AS z
WHERE NOT EXISTS (
    SELECT 1 FROM jsonb_each_text(p.required_skills) AS r(skill, level)
    WHERE NOT EXISTS (SELECT 1 FROM agent_skills s
                      WHERE s.agent_id = a.id AND s.skill_code = r.skill
                        AND s.level >= r.level::int))
"""
_PROCESS_FACTS = """
UPDATE bench_processes p
SET agents = (SELECT count(*) FROM bench_agents a WHERE a.process_id = p.id),
    on_shift = (SELECT count(ks) FROM bench_agents a WHERE a.process_id = p.id),
    reviewed = :reviewed, input_field = :input_field, ruleset_id = :ruleset_id,
    ruleset_version = :ruleset_version
WHERE p.id = :process_id
"""
# What each check of a review names: the result form's fields, or the scorecard's criteria.
_FIELDS = """
CREATE TEMP TABLE bench_fields (process_id uuid, field text, category text) ON COMMIT DROP
"""
_FIELD = "INSERT INTO bench_fields VALUES (:process_id, :field, :category)"

# Each item's facts, once, for the inserts below: its number n, its process (n modulo the
# processes), its place m in its process's sequence (n / processes), from which the state
# (m % 100) and its file slot (m / SLOT), two independent dice (hashes of n), and the agent
# who worked it: one of those on shift now for a live lease, one of all otherwise.
_SEED = """
CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
SELECT n, p.client_id, p.id AS process_id, p.code, p.kind,
       lpad(to_hex(n), 32, '0')::uuid AS id, s.state, f.batch_id, f.received_at,
       h.one, h.two, d.stp, d.live, coalesce(o.k, w.k) AS agent_k,
       coalesce(o.agent_id, w.agent_id) AS agent_id,
       CASE WHEN s.state = 'delivered' THEN
           CASE WHEN d.stp THEN f.received_at + interval '2 seconds'
                ELSE greatest(f.received_at,
                              least(f.received_at + (20 + (h.two / 100) % 250)
                                                    * interval '1 minute',
                                    CAST(:now AS timestamptz) - interval '1 minute'))
           END
       END AS delivered_at
FROM generate_series(1, :count) AS n
JOIN bench_processes p ON p.pi = n % :processes
CROSS JOIN LATERAL (SELECT n / :processes AS m, abs(hashint8(n::bigint)::bigint) AS one,
                           abs(hashint8(-n::bigint)::bigint) AS two) AS h
CROSS JOIN LATERAL (SELECT CASE WHEN h.m % 100 < 85 THEN 'delivered'
                                WHEN h.m % 100 < 95 THEN 'queued'
                                WHEN h.m % 100 < 97 THEN 'leased'
                                WHEN h.m % 100 < 99 THEN 'waiting'
                                ELSE 'in_review' END AS state) AS s
CROSS JOIN LATERAL (
    SELECT h.m / :slot AS slot,
           p.kind <> 'conversation'
           AND h.m % :slot < :file_min
               + abs(hashint8(p.pi * 1000003::bigint + h.m / :slot)::bigint)
                 % (:file_max - :file_min) AS in_file) AS b
CROSS JOIN LATERAL (
    SELECT CASE WHEN b.in_file THEN md5(p.id::text || '/' || b.slot)::uuid END AS batch_id,
           CAST(:now AS timestamptz)
           - (:count - CASE WHEN b.in_file THEN p.pi + :processes * b.slot * :slot ELSE n END)
             * (:days * interval '1 day') / :count AS received_at) AS f
CROSS JOIN LATERAL (
    SELECT p.kind = 'decision' AND s.state = 'delivered' AND h.one % 85 < 40 AS stp,
           s.state = 'leased' AND p.on_shift > 0
           AND f.received_at > CAST(:now AS timestamptz) - interval '1 day' AS live) AS d
LEFT JOIN bench_agents w
    ON w.process_id = p.id AND w.k = h.two % greatest(p.agents, 1)
   AND NOT d.stp AND NOT d.live AND s.state IN ('delivered', 'in_review', 'leased')
LEFT JOIN bench_agents o
    ON o.process_id = p.id AND o.ks = h.two % greatest(p.on_shift, 1) AND d.live
"""
_ITEMS = """
INSERT INTO work_items (client_id, id, process_id, batch_id, external_ref, state, version,
    priority, routing_key, received_at, due_at, at_risk_at, at_risk, breached, attempt,
    lease_owner, lease_expires_at, payload, gold, recheck, delivered_at, updated_at)
SELECT client_id, id, process_id, batch_id, upper(code) || '-' || n, state, 2, 0, code,
       received_at, received_at + interval '4 hours', received_at + interval '3 hours',
       state <> 'delivered' AND received_at + interval '3 hours' < :now,
       state <> 'delivered' AND received_at + interval '4 hours' < :now,
       CASE WHEN stp OR state IN ('queued', 'waiting') THEN 0 ELSE 1 END,
       agent_id,
       CASE WHEN live THEN CAST(:now AS timestamptz) + (1 + two % 5) * interval '1 minute'
            WHEN state = 'leased' THEN received_at + interval '1 hour' END,
       '{}'::jsonb, false, false, delivered_at, coalesce(delivered_at, received_at)
FROM bench_seed
"""
_EVENTS = """
INSERT INTO work_item_events (client_id, work_item_id, seq, at, from_state, to_state, actor,
    attempt)
SELECT client_id, id, 1, received_at, NULL,
       CASE WHEN kind = 'decision' THEN 'received' ELSE 'queued' END, 'system:bench', 0
FROM bench_seed
UNION ALL
SELECT client_id, id, 2, received_at + interval '1 second', 'received',
       CASE WHEN stp THEN 'delivered' ELSE 'queued' END, 'system:rules', 0
FROM bench_seed WHERE kind = 'decision'
UNION ALL
SELECT client_id, id, CASE WHEN kind = 'decision' THEN 3 ELSE 2 END, delivered_at,
       'submitted', 'delivered', 'agent:' || agent_id, 1
FROM bench_seed WHERE state = 'delivered' AND NOT stp
"""
# The rules at arrival; an analyst on each referral worked; a second analyst on each decline
# delivered (four eyes). The dice: the rules' outcome or advice from one's hundreds digit,
# the analyst's from its thousands digit, the second analyst from what is left of it.
_DECISIONS = """
INSERT INTO decisions (client_id, id, work_item_id, process_id, by, outcome, reasons,
    ruleset_id, ruleset_version, recommended, override, actor, notes, at)
WITH decided AS (
    SELECT s.*, p.agents, p.ruleset_id, p.ruleset_version,
           CASE WHEN NOT s.stp THEN 'refer'
                WHEN (s.one / 100) % 10 < 8 THEN 'approve' ELSE 'decline' END AS rules,
           CASE WHEN s.stp THEN NULL
                WHEN (s.one / 100) % 10 < 5 THEN 'approve'
                WHEN (s.one / 100) % 10 < 8 THEN 'decline' END AS advice,
           CASE WHEN s.state = 'in_review' OR (s.one / 1000) % 10 >= 7 THEN 'decline'
                ELSE 'approve' END AS judged
    FROM bench_seed s JOIN bench_processes p ON p.id = s.process_id
    WHERE s.kind = 'decision'
)
SELECT client_id, md5(id::text || '/rules')::uuid, id, process_id, 'rules', rules,
       CASE WHEN rules = 'approve' THEN '["STANDARD_RISK"]'
            WHEN rules = 'decline' THEN '["HIGH_RISK"]'
            WHEN advice = 'approve' THEN '["RESIDES_ABROAD"]'
            WHEN advice = 'decline' THEN '["COVERAGE_LIMIT"]'
            ELSE '["INCOMPLETE_INCOME"]' END::jsonb,
       ruleset_id, ruleset_version, advice, false, 'system:rules', NULL,
       received_at + interval '1 second'
FROM decided
UNION ALL
SELECT client_id, md5(id::text || '/analyst')::uuid, id, process_id, 'analyst', judged,
       CASE WHEN judged = 'approve' THEN '["acceptable risk after review"]'
            ELSE '["risk beyond the guidelines"]' END::jsonb,
       ruleset_id, ruleset_version, advice, advice IS NOT NULL AND advice <> judged,
       'agent:' || agent_id, NULL,
       CASE WHEN state = 'delivered' THEN delivered_at - interval '1 minute'
            ELSE least(received_at + interval '2 hours', :now) END
FROM decided WHERE NOT stp AND state IN ('delivered', 'in_review') AND agent_id IS NOT NULL
UNION ALL
SELECT d.client_id, md5(d.id::text || '/confirmation')::uuid, d.id, d.process_id,
       'confirmation', 'decline', '["risk beyond the guidelines"]'::jsonb, d.ruleset_id,
       d.ruleset_version, 'decline', false, 'agent:' || a.agent_id, NULL, d.delivered_at
FROM decided d
JOIN bench_agents a
  ON a.process_id = d.process_id
 AND a.k = (d.agent_k + 1 + (d.one / 10000) % greatest(d.agents - 1, 1)) % d.agents
WHERE NOT d.stp AND d.state = 'delivered' AND d.judged = 'decline' AND d.agents > 1
"""
_REVIEWED = """
CREATE TEMP TABLE bench_reviews ON COMMIT DROP AS
SELECT s.client_id, md5(s.id::text || '/review')::uuid AS id, s.id AS work_item_id,
       s.process_id, s.kind, s.agent_id,
       greatest(s.received_at, s.delivered_at - interval '5 minutes') AS at
FROM bench_seed s JOIN bench_processes p ON p.id = s.process_id
WHERE s.state = 'delivered' AND s.agent_id IS NOT NULL
  AND (s.two / 100000) % 1000 < p.reviewed
"""
_FIELD_CHECKS = """
INSERT INTO qa_field_checks (client_id, id, review_id, process_id, agent_id, field, passed,
    category, at)
SELECT r.client_id, md5(r.id::text || '/' || f.field)::uuid, r.id, r.process_id, r.agent_id,
       f.field, c.passed, CASE WHEN NOT c.passed THEN f.category END, r.at
FROM bench_reviews r
JOIN bench_fields f ON f.process_id = r.process_id
CROSS JOIN LATERAL (SELECT abs(hashtext(r.id::text || f.field)::bigint) % 1000
                           >= :failed AS passed) AS c
"""
_REVIEWS = """
INSERT INTO qa_reviews (client_id, id, work_item_id, process_id, agent_id, reviewer, kind,
    defect, verdict, rework_to, checks, reason, at)
SELECT r.client_id, r.id, r.work_item_id, r.process_id, r.agent_id, 'system:bench', 'sample',
       c.defect,
       CASE WHEN NOT c.defect THEN 'deliver'
            WHEN r.kind = 'conversation' THEN 'rework' ELSE 'correct' END,
       CASE WHEN c.defect AND r.kind = 'conversation' THEN 'other' END,
       c.checks, NULL, r.at
FROM bench_reviews r
JOIN (SELECT client_id, review_id, bool_or(NOT passed) AS defect,
             jsonb_agg(jsonb_build_object('name', field, 'passed', passed,
                                          'category', category) ORDER BY field) AS checks
      FROM qa_field_checks GROUP BY client_id, review_id) AS c
  ON c.client_id = r.client_id AND c.review_id = r.id
"""
_REVIEW_QUEUE = """
INSERT INTO qa_review_requests (client_id, work_item_id, process_id, kind, agent_id,
    requested_at)
SELECT client_id, id, process_id, 'sample', agent_id,
       least(received_at + interval '2 hours', :now)
FROM bench_seed WHERE state = 'in_review' AND kind <> 'decision' AND agent_id IS NOT NULL
"""
# One row per file, counted from its items; a client's files name its user, if it has one.
_BATCHES = """
INSERT INTO batches (client_id, id, process_id, filename, file_format, mode, rows_total,
    rows_accepted, rows_rejected, errors, created_by, created_at, idempotency_key, file_sha256)
SELECT g.client_id, g.batch_id, g.process_id,
       g.code || '-' || to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD-HH24MI') || '.'
       || x.format,
       x.format, x.mode, g.rows + x.rejected, g.rows, x.rejected,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'row', 2 + (g.dice / 1000 + i * 97) % g.rows, 'field', p.input_field,
                   'message', 'is required') ORDER BY i), '[]'::jsonb)
        FROM generate_series(1, x.rejected) AS i),
       (SELECT min(u.id::text)::uuid FROM users u WHERE u.client_id = g.client_id),
       g.created_at, NULL, md5(g.batch_id::text) || md5(g.code || g.batch_id::text)
FROM (SELECT client_id, batch_id, process_id, code, min(received_at) AS created_at,
             count(*) AS rows, abs(hashtext(batch_id::text)::bigint) AS dice
      FROM bench_seed WHERE batch_id IS NOT NULL
      GROUP BY client_id, batch_id, process_id, code) AS g
JOIN bench_processes p ON p.id = g.process_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.dice % 10 < 6 THEN 'csv' WHEN g.dice % 10 < 9 THEN 'xlsx'
                ELSE 'jsonl' END AS format,
           CASE WHEN (g.dice / 10) % 5 = 0 THEN 'accept_valid'
                ELSE 'all_or_nothing' END AS mode,
           CASE WHEN (g.dice / 10) % 5 = 0 THEN 1 + (g.dice / 100) % 12
                ELSE 0 END AS rejected) AS x
"""
# About one file in twenty was first sent with errors, all or nothing: rejected whole.
_REJECTED_FILES = """
INSERT INTO batches (client_id, id, process_id, filename, file_format, mode, rows_total,
    rows_accepted, rows_rejected, errors, created_by, created_at, idempotency_key, file_sha256)
SELECT client_id, md5(id::text || '/rejected')::uuid, process_id, filename, file_format,
       'all_or_nothing', rows_total, 0, 3, '[{"row": 2, "field": "(file)",
       "message": "3 rows are not valid: nothing was accepted"}]'::jsonb, created_by,
       created_at - interval '40 minutes', NULL, md5(id::text || '/rejected')
       || md5(filename)
FROM batches WHERE abs(hashtext(id::text)::bigint) % 20 = 0
"""


@dataclass(frozen=True)
class People:
    """Who asks for the pages: tokens for the requests, principals for the checks."""

    ops: Principal
    admin: Principal
    tokens: dict[str, str]


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    from fastapi.testclient import TestClient  # here: every benchmark imports this module

    server = require_postgres_url(postgres_url, "console")
    count = 20_000 if quick else 1_000_000
    figures: dict[str, Any] = {"benchmark": "console", "quick": quick, "items": count}
    figures["busy_cores_before"] = busy_cores_now()
    started = time.perf_counter()
    with scratch_database(server, "tandem_bench_console", log) as database:
        container = _container(database.sqlalchemy_url)
        try:
            people = _operation(container)
            seed_s, seeded = _seed(container, count, log)
            figures["seed_s"] = round(seed_s, 1)
            figures.update(seeded)
            figures.update(_check(container, people))
            reference = _a_reference(container, people)
            app = _container(application_role(server, database))
            with TestClient(create_app(app)) as client:
                for name, url, token in _pages(people, reference):
                    times = _render(client, url, token)
                    figures[f"{name}_ms"] = round(statistics.median(times), 1)
                    figures[f"{name}_max_ms"] = round(max(times), 1)
                    median, slowest = statistics.median(times), max(times)
                    log(f"{url}: median {median:.0f} ms, slowest {slowest:.0f} ms")
                app.engine.dispose()
        finally:
            container.engine.dispose()
    missed = [
        f"{name}_ms <= {TARGET_MS:.0f}"
        for name, _, _ in _pages(people, reference)
        if figures[f"{name}_ms"] > TARGET_MS
    ]
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def _pages(people: People, reference: str) -> list[tuple[str, str, str]]:
    """(figure, address, token) of each page timed: the floor and the portal, and finding
    items in the portal and over the API (a reference, a state sorted, a later page)."""
    ops, client = people.tokens["ops"], people.tokens["client"]
    return [
        ("ops_floor", "/console/operations", ops),
        ("portal", "/console/portal", client),
        ("portal_find", "/console/portal/items", client),
        ("portal_find_reference", f"/console/portal/items?ref={reference}", client),
        (
            "portal_find_delivered",
            "/console/portal/items?state=delivered&sort=-delivered&page=5",
            client,
        ),
        ("portal_find_queued_by_due", "/console/portal/items?state=queued&sort=due", client),
        ("api_find_reference", f"/api/v1/work-items?external_ref={reference}", client),
        ("api_list_received", "/api/v1/work-items?sort=-received&limit=100&offset=1000", client),
    ]


def _a_reference(container: Container, people: People) -> str:
    """A reference of the insurer's, from the middle of its items (not the newest page)."""
    with container.engine.connect() as connection:
        return str(
            connection.scalar(
                text(
                    "SELECT external_ref FROM work_items WHERE client_id = :c"
                    " ORDER BY id OFFSET (SELECT count(*) / 2 FROM work_items WHERE client_id = :c)"
                    " LIMIT 1"
                ),
                {"c": people.admin.client_id},
            )
        )


APPLICATION_ROLE = "tandem_bench_app"


def application_role(server_url: str, database: ScratchDatabase) -> str:
    """The scratch database's URL for an ordinary role, as production connects: not a
    superuser, so row-level security applies (the server's password, if any, is reused)."""
    url = make_url(database.sqlalchemy_url)
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (APPLICATION_ROLE,)
        ).fetchone():
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                    sql.Identifier(APPLICATION_ROLE), sql.Literal(url.password)
                )
            )
        for grant in (
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}",
        ):
            conn.execute(sql.SQL(grant).format(sql.Identifier(APPLICATION_ROLE)))
    return url.set(username=APPLICATION_ROLE).render_as_string(hide_password=False)


def _container(url: str) -> Container:
    settings = Settings(database_url=url)
    engine = make_engine(settings.sqlalchemy_url)
    clock = SystemClock()
    return Container(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock,
    )


def _operation(container: Container) -> People:
    """The demo's clients, processes and workforce; an ops manager and the insurer's admin."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        clients = _clients(session, now)
        _processes(session, clients, now)
        _workforce(session, clients, random.Random(3))
        ops = create_user(
            session, email="ops@bench.example", name="Ops", role="ops_manager", now=now
        )
        admin = create_user(
            session,
            email="admin@bench.example",
            name="Admin",
            role="client_admin",
            client_id=clients["northwind"],
            now=now,
        )
        return People(
            ops=Principal(ops.id, ops.role, None, None),
            admin=Principal(admin.id, admin.role, admin.client_id, None),
            tokens={
                "ops": issue_token(session, ops.id, "bench", now),
                "client": issue_token(session, admin.id, "bench", now),
            },
        )


def _seed(container: Container, count: int, log: Log) -> tuple[float, dict[str, int]]:
    """The items and what the pages read with them (the module's docstring has the
    proportions); the seconds it took and the rows written per table."""
    log(f"writing {count:,} items, their events, files, decisions and reviews")
    start = time.perf_counter()
    now = container.clock.now()
    rules = _publish_rules(container, now)
    with container.engine.begin() as connection:
        processes = _process_facts(connection, rules, now)
        params = {
            "count": count,
            "processes": processes,
            "now": now,
            "days": DAYS,
            "slot": SLOT,
            "file_min": FILE_ROWS[0],
            "file_max": FILE_ROWS[1],
            "failed": FAILED_CHECKS,
        }
        for statement in (
            _SEED,
            _ITEMS,
            _EVENTS,
            _BATCHES,
            _REJECTED_FILES,
            _DECISIONS,
            _REVIEWED,
            _FIELD_CHECKS,
            _REVIEWS,
            _REVIEW_QUEUE,
        ):
            connection.execute(text(statement), params)
        seeded = {
            f"seeded_{table}": connection.execute(
                text(f"SELECT count(*) FROM {table}")  # noqa: S608 - names of ours
            ).scalar_one()
            for table in ("batches", "decisions", "qa_reviews", "qa_field_checks")
        }
        seeded["seeded_lease_owners"] = connection.execute(
            text("SELECT count(*) FROM work_items WHERE lease_owner IS NOT NULL")
        ).scalar_one()
    with container.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    seconds = time.perf_counter() - start
    log(f"seeded in {seconds:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in seeded.items()))
    return seconds, seeded


def _publish_rules(container: Container, now: datetime) -> dict[uuid.UUID, tuple[uuid.UUID, int]]:
    """The underwriting rules, published (version 1) for each decision process, written
    directly: their decisions are seeded, not computed."""
    published = {}
    with transaction(container.sessions) as session:
        for process in session.scalars(select(Process).where(Process.kind == "decision")):
            ruleset = Ruleset(
                client_id=process.client_id,
                process_id=process.id,
                version=1,
                status="published",
                graph=underwriting.graph(),
                four_eyes={"declines": True},
                note="Underwriting guidelines 2026",
                created_at=now - timedelta(days=DAYS + 1),
                published_at=now - timedelta(days=DAYS + 1),
            )
            session.add(ruleset)
            session.flush()
            published[process.id] = (ruleset.id, ruleset.version)
    return published


def _process_facts(
    connection: Connection, rules: dict[uuid.UUID, tuple[uuid.UUID, int]], now: datetime
) -> int:
    """The temporary tables of processes, the agents who may work each and the fields a
    review checks; the number of processes."""
    connection.execute(text(_PROCESSES))
    connection.execute(text(_ON_SHIFT))
    if working := _on_shift(connection, now):
        connection.execute(
            text("INSERT INTO bench_on_shift VALUES (:agent_id)"),
            [{"agent_id": agent_id} for agent_id in working],
        )
    connection.execute(text(_AGENTS))
    connection.execute(text(_FIELDS))
    processes = connection.execute(
        select(
            Process.client_id,
            Process.id,
            Process.code,
            Process.kind,
            Process.input_schema,
            Process.form_schema,
        )
    ).all()
    for client_id, process_id, code, kind, input_schema, form_schema in processes:
        ruleset_id, ruleset_version = rules.get(process_id, (None, None))
        connection.execute(
            text(_PROCESS_FACTS),
            {
                "process_id": process_id,
                "reviewed": REVIEWED.get(code, REVIEWED_OTHERWISE),
                "input_field": next(iter(input_schema.get("properties", {})), "(row)"),
                "ruleset_id": ruleset_id,
                "ruleset_version": ruleset_version,
            },
        )
        policy = Policy(client_id, process_id, kind, "sampling", 0.01, 0.95, form_schema)
        category = "communication" if kind == "conversation" else "wrong_value"
        connection.execute(
            text(_FIELD),
            [
                {"process_id": process_id, "field": field, "category": category}
                for field in policy.criteria
            ],
        )
    lonely = connection.execute(text("SELECT code FROM bench_processes WHERE agents = 0")).scalars()
    if missing := list(lonely):
        raise RuntimeError(f"no agent may work {', '.join(missing)}: the demo's workforce?")
    return len(processes)


def _on_shift(connection: Connection, now: datetime) -> list[uuid.UUID]:
    """The agents on shift now, as the operations floor counts them."""
    shifts: dict[uuid.UUID, list[WeeklyShift]] = defaultdict(list)
    for agent_id, weekday, start, minutes in connection.execute(
        select(Shift.agent_id, Shift.weekday, Shift.start_minute, Shift.duration_minutes)
    ):
        shifts[agent_id].append(WeeklyShift(weekday, start, minutes))
    zones = dict(connection.execute(select(DeliveryCenter.code, DeliveryCenter.timezone)).all())
    return [
        agent_id
        for agent_id, code in connection.execute(
            select(Agent.id, Agent.center_code).where(Agent.active.is_(True))
        )
        if on_shift(shifts[agent_id], zones[code], now)
    ]


def _check(container: Container, people: People) -> dict[str, Any]:
    """What the two pages show must not be empty, or the benchmark would time empty
    tables: each KPI has a value, the file list and latest items have rows, the floor has
    queues, urgent work, agents working and deliveries in the last 24 hours."""
    client_id = people.admin.client_id or 0
    with container.context(people.admin) as ctx:
        kpis = client_kpis(ctx, client_id, period=PERIOD)
        files = ctx.session.scalars(  # the portal's file list
            select(Batch.id)
            .where(Batch.client_id == client_id)
            .order_by(Batch.created_at.desc())
            .limit(RECENT)
        ).all()
        latest = queries.latest(ctx.session, client_id, RECENT)
    with container.context(people.ops) as ctx:
        seen = floor(ctx)
    shown = {
        "kpi_delivered": kpis.delivered,
        "kpi_sla_attainment": kpis.sla_attainment,
        "kpi_turnaround_hours": kpis.turnaround_hours,
        "kpi_accuracy": kpis.accuracy,
        "kpi_fields_checked": kpis.checks,
        "kpi_straight_through_rate": kpis.straight_through_rate,
        "kpi_decided_by_rules": kpis.decided_by_rules,
        "kpi_open_items": kpis.open_items,
        "portal_files": len(files),
        "portal_latest_items": len(latest),
        "floor_queues": len(seen.queues),
        "floor_urgent": len(seen.urgent),
        "floor_on_shift": sum(center.on_shift for center in seen.centers),
        "floor_working_now": sum(center.working for center in seen.centers),
        "floor_delivered_24h": sum(seen.delivered_per_hour),
    }
    empty = [name for name, value in shown.items() if not value]
    if empty:
        raise RuntimeError(f"the pages would show empty data: {', '.join(empty)}")
    return {
        name: round(value, 4) if isinstance(value, float) else value
        for name, value in shown.items()
    }


def _render(client: Any, url: str, token: str) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for n in range(WARM_UP + TIMED):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        if n == 0:
            _shows_data(url, response.text)
        if n >= WARM_UP:
            times.append(elapsed)
    return times


# What the pages print for an empty table or a KPI without a value.
_EMPTY = (
    "No files yet.",
    "No items yet.",
    "No items match",
    "No open work.",
    "Nothing at risk.",
    '<div class="value">—</div>',
)


def _shows_data(url: str, html: str) -> None:
    if html.strip() == "[]":
        raise RuntimeError(f"{url} lists nothing")
    if shown := [marker for marker in _EMPTY if marker in html]:
        raise RuntimeError(f"{url} shows empty data: {', '.join(shown)}")
