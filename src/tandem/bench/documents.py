"""`tandem bench documents`: how soon the workbench shows a 100-page PDF's first page.

A 100-page PDF of scanned application forms is made at bench time (Pillow: grey pages of a
letter-size form at 100 dots per inch, each with its boxes, labels, handwriting-like strokes
and scanner speckle, stored as JPEG images in the PDF, as scanners write them; about 10 MB).
The real app (create_app, called in process through its ASGI interface, as the console
benchmark does: the server's time, not a network's) takes it as the document of each of 15
items (5 with --quick), one request each (`intake_ms`: upload, check by content, sealing,
storage). Then, for each item in turn, an agent claims it, the workbench opens its document
(`POST .../document/openings`, recorded in the audit trail) and asks for its first page, as
the workbench's viewer does on a high-density screen (scale 2: a letter page 1,224 pixels
wide, WebP):

- `first_page_ms` (median) and `first_page_p95_ms`: from the request of the first page's
  image to its last byte, nothing of the document in the process's caches (each item's
  document is a document of its own: loaded from the database, opened with the client's
  key, the page drawn by PDFium and encoded);
- `next_page_ms`: the second page right after (the document's bytes kept a moment, the page
  drawn anew): paging through;
- `same_page_ms`: the first page asked again (zooming back: drawn a moment ago).

On a SQLite file always; on PostgreSQL too when a server is given (--postgres-url or
TANDEM_POSTGRES_URL), its figures prefixed `postgres_`. Target: the first page's p95 under
one second on each database measured.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from tandem.bench.dispatch import busy_cores_now, scratch_database
from tandem.bench.intake import Log, sqlite_file
from tandem.catalog.service import ProcessDefinition, define_process
from tandem.container import Container
from tandem.core.clock import SystemClock
from tandem.core.config import Settings
from tandem.core.db import make_engine, make_sessionmaker, transaction
from tandem.tenancy.service import create_client, create_user, issue_token
from tandem.workforce.models import (
    Agent,
    AgentClearance,
    AgentLanguage,
    AgentSkill,
    DeliveryCenter,
    Shift,
    Skill,
)

TARGET_MS = 1000.0
PAGES = 100
SCALE = 2.0  # the viewer on a high-density screen: a letter page drawn 1,224 pixels wide
INPUT = {
    "type": "object",
    "required": ["document_ref"],
    "properties": {"document_ref": {"type": "string", "minLength": 1}},
}
FORM = {
    "type": "object",
    "required": ["applicant_name"],
    "properties": {"applicant_name": {"type": "string", "minLength": 2}},
}


def scanned_pdf(pages: int = PAGES, seed: int = 16) -> bytes:
    """A PDF of `pages` scanned form pages: grey JPEG images, 100 dots per inch, letter size."""
    rng = random.Random(seed)
    images = [_scan(number, rng) for number in range(1, pages + 1)]
    out = io.BytesIO()
    images[0].save(
        out, "PDF", save_all=True, append_images=images[1:], resolution=100.0, quality=60
    )
    return out.getvalue()


def _scan(number: int, rng: random.Random) -> Image.Image:
    width, height = 850, 1100
    page = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(page)
    draw.text((60, 40), f"APPLICATION FOR LIFE INSURANCE - page {number} of {PAGES}", fill=0)
    y = 90
    while y < height - 80:
        draw.rectangle((60, y, width - 60, y + 34), outline=30, width=2)
        draw.text((68, y + 4), f"Field {y // 44}", fill=60)
        x = 200
        for _ in range(rng.randrange(4, 12)):  # a keyed or written answer
            step = rng.randrange(12, 30)
            draw.line((x, y + 26, x + step, y + 10 + rng.randrange(12)), fill=20, width=2)
            x += step
        y += 44
    for _ in range(800):  # the scanner's speckle
        page.putpixel((rng.randrange(width), rng.randrange(height)), rng.randrange(120, 220))
    return page


def run(*, postgres_url: str | None, quick: bool, log: Log) -> dict[str, Any]:
    server = postgres_url or os.environ.get("TANDEM_POSTGRES_URL") or None
    items = 5 if quick else 15
    started = time.perf_counter()
    figures: dict[str, Any] = {"benchmark": "documents", "quick": quick, "items": items}
    figures["busy_cores_before"] = busy_cores_now()
    made = time.perf_counter()
    document = scanned_pdf()
    figures["document_pages"] = PAGES
    figures["document_bytes"] = len(document)
    log(f"made a {PAGES}-page PDF of {len(document):,} bytes in {time.perf_counter() - made:.1f} s")
    with (
        tempfile.TemporaryDirectory(prefix="tandem-bench-documents-") as tmp,
        sqlite_file(Path(tmp) / "bench.db") as url,
    ):
        figures.update(_measure(url, document, items, "", log))
    if server:
        with scratch_database(server, "tandem_bench_documents", log) as database:
            figures.update(_measure(database.sqlalchemy_url, document, items, "postgres_", log))
    missed = [
        f"{prefix}first_page_p95_ms < {TARGET_MS:.0f}"
        for prefix in ("", "postgres_")
        if f"{prefix}first_page_p95_ms" in figures
        and figures[f"{prefix}first_page_p95_ms"] >= TARGET_MS
    ]
    figures["targets_met"] = not missed
    figures["targets_missed"] = ", ".join(missed)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def _measure(url: str, document: bytes, items: int, prefix: str, log: Log) -> dict[str, Any]:
    from fastapi.testclient import TestClient  # here: every benchmark imports this module

    from tandem.app import create_app

    with _container(url) as container:
        client_token, agent_token, process_id = _operation(container)
        client_headers = {"Authorization": f"Bearer {client_token}"}
        agent = {"Authorization": f"Bearer {agent_token}"}
        times: dict[str, list[float]] = {"intake": [], "first": [], "next": [], "same": []}
        with TestClient(create_app(container)) as http:
            for n in range(items):
                start = time.perf_counter()
                made = http.post(
                    f"/api/v1/processes/{process_id}/work-items/with-document",
                    data={"payload": json.dumps({"document_ref": f"scan-{n:08}.pdf"})},
                    files={"document": (f"scan-{n:08}.pdf", document, "application/pdf")},
                    headers=client_headers,
                )
                times["intake"].append(_ms(start))
                _expect(made, 201)
            for _ in range(items):
                lease = _expect(http.post("/api/v1/dispatch/claim", headers=agent), 200).json()
                item = lease["item_id"]
                opened = _expect(
                    http.post(f"/api/v1/work-items/{item}/document/openings", headers=agent), 201
                ).json()
                if opened["pages"] != PAGES:
                    raise RuntimeError(f"the document has {opened['pages']} pages, not {PAGES}")
                page = f"/api/v1/work-items/{item}/document/page"
                for label, number in (("first", 1), ("next", 2), ("same", 1)):
                    query = {"ticket": opened["ticket"], "number": number, "scale": SCALE}
                    start = time.perf_counter()
                    shown = http.get(page, params=query, headers=agent)
                    times[label].append(_ms(start))
                    _expect(shown, 200)
                    if label == "first":
                        _check_page(shown.content)
                _expect(
                    http.post(
                        f"/api/v1/leases/{item}/submit",
                        json={"attempt": lease["attempt"], "result": {"applicant_name": "Bench"}},
                        headers=agent,
                    ),
                    200,
                )
    first = times["first"]
    out = {
        f"{prefix}intake_ms": _median(times["intake"]),
        f"{prefix}first_page_ms": _median(first),
        f"{prefix}first_page_p95_ms": round(_p95(first), 1),
        f"{prefix}first_page_max_ms": round(max(first), 1),
        f"{prefix}next_page_ms": _median(times["next"]),
        f"{prefix}same_page_ms": _median(times["same"]),
    }
    database = prefix.rstrip("_") or "sqlite"
    log(
        f"{database}: first page median {out[f'{prefix}first_page_ms']} ms, p95 "
        f"{out[f'{prefix}first_page_p95_ms']} ms; next page {out[f'{prefix}next_page_ms']} ms; "
        f"same page {out[f'{prefix}same_page_ms']} ms; intake {out[f'{prefix}intake_ms']} ms"
    )
    return out


def _check_page(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        if image.format != "WEBP" or image.size != (round(612 * SCALE), round(792 * SCALE)):
            raise RuntimeError(f"the first page came as {image.format} {image.size}")


@contextmanager
def _container(url: str) -> Iterator[Container]:
    settings = Settings(database_url=url, cookie_secure=False)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        yield Container(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            clock=SystemClock(),
        )
    finally:
        engine.dispose()


def _operation(container: Container) -> tuple[str, str, Any]:
    """An insurer with a keying process, its admin, and an agent on shift around the clock."""
    now = container.clock.now()
    with transaction(container.sessions) as session:
        client = create_client(
            session, code="insurer", name="Insurer", timezone="America/New_York", now=now
        )
        session.add(Skill(code="data_entry", name="Data entry"))
        session.add(
            DeliveryCenter(
                code="MNL",
                name="Manila",
                country="PH",
                timezone="Asia/Manila",
                hourly_cost=9.5,
                currency="USD",
                holidays=[],
            )
        )
        process = define_process(
            session,
            client.id,
            ProcessDefinition(
                code="app-keying",
                name="Keying of insurance application forms",
                kind="data_entry",
                input_schema=INPUT,
                form_schema=FORM,
                required_skills={"data_entry": 2},
                sla_minutes=240,
                sla_mode="24x7",
            ),
            now=now,
        )
        admin = create_user(
            session,
            email="admin@bench.example",
            name="Admin",
            role="client_admin",
            client_id=client.id,
            now=now,
        )
        user = create_user(session, email="agent@bench.example", name="A", role="agent", now=now)
        agent = Agent(center_code="MNL", name="Bench Agent", tier="agent", user_id=user.id)
        session.add(agent)
        session.flush()
        session.add(AgentSkill(agent_id=agent.id, skill_code="data_entry", level=3))
        session.add(AgentLanguage(agent_id=agent.id, language="en", cefr="C1"))
        session.add(AgentClearance(client_id=client.id, agent_id=agent.id))
        for weekday in range(7):
            session.add(
                Shift(agent_id=agent.id, weekday=weekday, start_minute=0, duration_minutes=1440)
            )
        return (
            issue_token(session, admin.id, "bench", now),
            issue_token(session, user.id, "bench", now),
            process.id,
        )


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]
